#include "relay/policy_step.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <functional>
#include <map>
#include <mutex>

#include "core/metrics.hpp"
#include "relay/jwks_cache.hpp"
#include "relay/oidc_fetch.hpp"

namespace porthole::relay {

namespace http1 = proto::http1;

namespace {

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}
std::int64_t mono_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// One counter per reason label, made on first use (labels come from a fixed set in evaluate.cpp).
void count_denial(const std::string& reason, bool tcp) {
  static std::mutex mu;
  static std::map<std::string, metrics::Counter*> counters;
  const std::string label = fmt::format("{}{}", tcp ? "tcp_" : "", reason.empty() ? "rule" : reason);
  std::lock_guard lock(mu);
  auto& c = counters[label];
  if (c == nullptr) {
    c = &metrics::counter(fmt::format("porthole_policy_denials_total{{reason=\"{}\"}}", label),
                          "Visitors and requests denied by a traffic policy, by reason");
  }
  c->inc();
}

std::string answer_text(const policy::Decision& d, bool close) {
  std::string body = d.custom ? d.body : fmt::format("{} {}: {}\n", d.status, http1::reason_phrase(d.status), d.reason);
  std::string out = fmt::format("HTTP/1.1 {} {}\r\n", d.status, http1::reason_phrase(d.status));
  bool has_type = false;
  for (const auto& h : d.response_headers) {
    out += fmt::format("{}: {}\r\n", h.name, h.value);
    has_type = has_type || h.name == "Content-Type";
  }
  if (!has_type) out += "Content-Type: text/plain; charset=utf-8\r\n";
  out += fmt::format("Content-Length: {}\r\nCache-Control: no-store\r\n{}\r\n", body.size(),
                     close ? "Connection: close\r\n" : "");
  out += body;
  return out;
}

// Collects a body into a string, refusing more than `cap` bytes.
class Collector final : public net::ByteStream {
 public:
  Collector(std::string& out, std::uint64_t cap) : out_(out), cap_(cap) {}
  net::Task<Result<net::Chunk>> read() override { co_return make_error("write-only"); }
  net::Task<Result<void>> write(std::span<const std::uint8_t> bytes) override {
    if (out_.size() + bytes.size() > cap_) co_return make_error("body too large");
    out_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    co_return Result<void>{};
  }
  void shutdown_write() override {}
  void abort(std::string_view) override {}

 private:
  std::string& out_;
  std::uint64_t cap_;
};

bool needs_body(const Endpoint& ep) {
  return (ep.policy() != nullptr && ep.policy()->needs_body) ||
         (ep.relay_policy() != nullptr && ep.relay_policy()->needs_body);
}

}  // namespace

bool tcp_allowed(const Endpoint& ep, const std::string& ip) {
  if (!ep.has_policy()) return true;
  policy::Input in;
  in.ip = ip;
  in.unix_seconds = unix_now();
  in.now_ms = mono_ms();
  const auto d = policy::decide(ep.relay_policy(), ep.policy(), policy::Phase::tcp_connect, in);
  if (!d.allow) {
    count_denial(d.counter, true);
    spdlog::debug("endpoint {}: visitor {} denied by rule {}: {}", ep.public_url(), ip, d.rule, d.reason);
  }
  return d.allow;
}

net::Task<RequestStep> request_policy(const Endpoint& ep, net::ByteStream& visitor, net::MessageReader& reader,
                                      http1::RequestHead& head, const std::string& ip, std::string_view scheme,
                                      std::string_view sni, std::string_view mtls_subject) {
  RequestStep step;
  if (!ep.has_policy()) co_return step;
  head.fields.remove(kIdentityHeader);  // only the relay says who a visitor is
  for (const auto* p : {ep.relay_policy(), ep.policy()}) {
    if (p == nullptr) continue;
    for (const auto& h : p->protected_headers) head.fields.remove(h);  // jwt forward_claims: never from visitors
  }
  policy::Input in;
  in.ip = ip;
  in.scheme = scheme;
  in.sni = sni;
  in.mtls_subject = mtls_subject;
  in.method = head.method;
  in.host = head.host;
  in.target = head.target;
  in.headers.reserve(head.fields.list.size());
  for (const auto& f : head.fields.list) in.headers.push_back({f.name, f.value});
  in.unix_seconds = unix_now();
  in.now_ms = mono_ms();
  in.probe = needs_body(ep);
  auto d = policy::decide(ep.relay_policy(), ep.policy(), policy::Phase::http_request, in);
  if (in.probe) {
    if (d.needs_body) {
      // Read the body (bounded) before anything of it reaches the agent.
      policy::Decision refuse;
      if (head.body == http1::BodyKind::chunked) {
        refuse.status = 411;
        refuse.reason = "a signed webhook must have a Content-Length";
        refuse.counter = "webhook_length_required";
      } else if (head.body == http1::BodyKind::length && head.content_length > d.max_body) {
        refuse.status = 413;
        refuse.reason = fmt::format("the body is larger than {} bytes", d.max_body);
        refuse.counter = "webhook_too_large";
      } else if (head.body == http1::BodyKind::length) {
        http1::BodyFramer framer(head.body, head.content_length);
        Collector sink(step.body, d.max_body);
        const std::function<void()> no_progress;  // named: no temporaries in co_await arguments (GCC 12)
        auto r = co_await reader.copy_body(framer, sink, no_progress);
        if (!r) {
          step.forward = false;
          co_return step;  // the visitor went away or sent a broken body: the connection ends
        }
        step.buffered = true;
        head.body = http1::BodyKind::length;
      }
      if (refuse.status != 0) {
        refuse.allow = false;
        count_denial(refuse.counter, false);
        step.forward = false;
        const auto text = answer_text(refuse, true);
        co_await visitor.write(net::bytes_of(text));
        co_return step;
      }
    }
    in.body = &step.body;
    in.probe = false;
    d = policy::decide(ep.relay_policy(), ep.policy(), policy::Phase::http_request, in);
  }
  // A jwt action with jwks_url needs its keys (first use, past max-age, or an unknown kid):
  // fetched here, asynchronously and rate-limited, then the request is decided again. A source
  // just fetched (or being fetched) does not ask again, so each round is another source (the
  // operator's and the endpoint's rules may both have one); the last round takes what is cached.
  // An oidc action asks for its provider's discovery document the same way.
  for (int round = 0; (d.needs_keys || d.needs_discovery) && round < 4; ++round) {
    if (d.needs_keys) {
      auto src = d.needs_keys;
      auto fetch = refresh_jwks(src);
      co_await std::move(fetch);
    } else {
      auto prov = d.needs_discovery;
      auto fetch = refresh_oidc_discovery(prov);
      co_await std::move(fetch);
    }
    in.keys_refreshed = round == 3;
    in.rate_hits_done = d.rate_hits;  // those were counted: a retried request is one request
    in.now_ms = mono_ms();
    d = policy::decide(ep.relay_policy(), ep.policy(), policy::Phase::http_request, in);
  }
  // An oidc callback: the relay exchanges the code and answers the login itself.
  if (d.oidc_exchange) {
    auto x = d.oidc_exchange;
    auto rule = d.rule;
    auto login = complete_oidc_login(x);
    d = co_await std::move(login);
    d.rule = rule;
  }
  if (!d.allow) {
    count_denial(d.counter, false);
    spdlog::debug("http {}: {} {} from {} denied by rule {}: {}", head.host, head.method, head.target, ip, d.rule,
                  d.reason);
    // A body we do not read cannot be skipped safely: then the connection closes (announced).
    step.forward = false;
    step.keep_alive = head.keep_alive && (head.body == http1::BodyKind::none || step.buffered);
    const auto text = answer_text(d, !step.keep_alive);
    auto w = co_await visitor.write(net::bytes_of(text));
    if (!w) step.keep_alive = false;
    co_return step;
  }
  for (const auto& n : d.remove_headers) head.fields.remove(n);
  for (const auto& h : d.add_headers) head.fields.add(h.name, h.value);
  if (d.new_target) head.target = *d.new_target;
  if (!d.identity.empty()) head.fields.set(kIdentityHeader, d.identity);
  co_return step;
}

void response_policy(const Endpoint& ep, const std::string& ip, const http1::RequestHead& request,
                     http1::ResponseHead& rh) {
  if (!ep.has_policy()) return;
  policy::Input in;
  in.ip = ip;
  in.method = request.method;
  in.host = request.host;
  in.target = request.target;
  in.status = rh.status;
  for (const auto& f : rh.fields.list) in.headers.push_back({f.name, f.value});
  in.unix_seconds = unix_now();
  in.now_ms = mono_ms();
  const auto d = policy::decide(ep.relay_policy(), ep.policy(), policy::Phase::http_response, in);
  for (const auto& n : d.remove_headers) rh.fields.remove(n);
  for (const auto& h : d.add_headers) rh.fields.add(h.name, h.value);
}

}  // namespace porthole::relay
