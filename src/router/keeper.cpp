// Lease keeping for `porthole map add` (without --keep): pure scheduling functions, and the
// loop that renews, notices router restarts, maps again and removes the mapping on exit.
#include <csignal>
#include <ctime>

#include <spdlog/spdlog.h>

#include "core/metrics.hpp"
#include "router/router.hpp"

namespace porthole::router {

using Clock = std::chrono::steady_clock;

Clock::time_point next_renewal(const LeaseState& s, std::uint32_t recheck_seconds) {
  if (s.lifetime_seconds == 0) return s.granted_at + std::chrono::seconds(std::max<std::uint32_t>(1, recheck_seconds));
  return s.granted_at + std::chrono::seconds(std::max<std::uint32_t>(1, s.lifetime_seconds / 2));
}

bool router_restarted(std::uint32_t prev_epoch, Clock::time_point prev_local, std::uint32_t new_epoch,
                      Clock::time_point new_local) {
  // RFC 6887 §8.5 (same rule in RFC 6886 §3.6).
  if (std::uint64_t{new_epoch} + 1 < prev_epoch) return true;
  if (new_epoch < prev_epoch) return false;  // within one second of jitter
  auto client_delta = std::chrono::duration_cast<std::chrono::seconds>(new_local - prev_local).count();
  if (client_delta < 0) client_delta = 0;
  std::int64_t server_delta = std::int64_t{new_epoch} - std::int64_t{prev_epoch};
  return client_delta + 2 < server_delta - server_delta / 16 || server_delta + 2 < client_delta - client_delta / 16;
}

std::chrono::seconds retry_backoff(int failures) {
  if (failures <= 0) return std::chrono::seconds(1);
  if (failures >= 6) return std::chrono::seconds(30);
  return std::chrono::seconds(std::min(30, 1 << (failures - 1)));
}

namespace {

// Blocks SIGINT/SIGTERM for this thread and waits for them with a deadline.
class SignalWait {
 public:
  SignalWait() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
    // A shell starts background jobs with SIGINT ignored; an ignored signal is discarded even
    // while blocked, so restore the default (safe: both stay blocked and are taken by sigtimedwait).
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
  }
  ~SignalWait() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }
  SignalWait(const SignalWait&) = delete;
  SignalWait& operator=(const SignalWait&) = delete;
  // True when a signal arrived before `until`.
  bool until(Clock::time_point t) {
    while (true) {
      // Always look at least once, so a signal is taken even when the work overran the deadline.
      auto left = std::max(t - Clock::now(), Clock::duration::zero());
      auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
      timespec ts{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
      int sig = sigtimedwait(&set_, nullptr, &ts);
      if (sig == SIGINT || sig == SIGTERM) {
        spdlog::info("map: got {}, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
        return true;
      }
      if (ns == 0 || Clock::now() >= t) return false;
    }
  }

 private:
  sigset_t set_{}, old_{};
};

struct Held {
  Mapping m;
  LeaseState lease;
  MappingRequest req;  // what to send to renew
};

void note(const KeeperOptions& o, const Mapping& m, std::string_view what) {
  spdlog::info("map: {} {} {} -> {}:{} via {} (lease {}s)", what, to_string(m.protocol), m.external_port,
               m.internal_address, m.internal_port, to_string(m.method), m.lease_seconds);
  if (o.on_event) o.on_event(m, what);
}

// One renewal or re-check. Returns false when it failed (the caller backs off and retries).
bool refresh(Client& client, Held& h, const KeeperOptions& o) {
  static auto& restarts = metrics::counter("porthole_router_restarts_total",
                                           "router restarts noticed by the lease keeper (mapped again)");
  static auto& failures = metrics::counter("porthole_router_renew_failures_total",
                                           "lease renewals or re-checks that failed");
  auto now = Clock::now();
  if (h.m.method == Method::upnp && h.lease.lifetime_seconds == 0) {
    if (client.check(h.m)) {
      h.lease.granted_at = Clock::now();  // next check one interval after this one ended
      return true;
    }
    spdlog::warn("map: UPnP mapping {} {} is gone (router restart?); mapping again", to_string(h.m.protocol),
                 h.m.external_port);
    restarts.inc();
  }
  auto r = client.add(h.req);
  if (!r) {
    failures.inc();
    spdlog::warn("map: renewal failed: {}", r.error().message);
    return false;
  }
  bool restarted = h.lease.epoch && r->epoch &&
                   router_restarted(*h.lease.epoch, h.lease.granted_at, *r->epoch, now);
  if (restarted) {
    restarts.inc();
    spdlog::warn("map: router restarted (epoch went from {} to {}): mapped again", *h.lease.epoch, *r->epoch);
  }
  h.m = *r;
  h.lease = LeaseState{now, r->lease_seconds, r->epoch};
  note(o, h.m, restarted ? "mapped again after router restart" : "renewed");
  return true;
}

}  // namespace

int keep_mapping(Client& client, const MappingRequest& req, const KeeperOptions& o) {
  SignalWait signals;
  auto first = client.add(req);
  if (!first) {
    spdlog::error("map: {}", first.error().message);
    return 1;
  }
  Held h{*first, LeaseState{Clock::now(), first->lease_seconds, first->epoch}, req};
  h.req.method = first->method;  // stick to the method that worked
  h.req.external_port = first->external_port;
  note(o, h.m, "mapped");
  int fails = 0;
  while (true) {
    auto due = fails ? Clock::now() + retry_backoff(fails)
                     : std::min(next_renewal(h.lease, o.recheck_seconds),
                                h.lease.granted_at + std::chrono::seconds(std::max<std::uint32_t>(1, o.recheck_seconds)));
    if (signals.until(due)) break;
    fails = refresh(client, h, o) ? 0 : fails + 1;
  }
  if (o.keep) return 0;
  if (auto r = client.remove(h.m.external_port, h.m.protocol, h.m.method); !r) {
    spdlog::error("map: could not remove the mapping: {}", r.error().message);
    return 1;
  }
  note(o, h.m, "removed");
  return 0;
}

}  // namespace porthole::router
