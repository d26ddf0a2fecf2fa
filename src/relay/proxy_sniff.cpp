#include "relay/proxy_sniff.hpp"

#include <spdlog/spdlog.h>

#include <vector>

#include "core/metrics.hpp"
#include "net/prefixed_stream.hpp"
#include "net/tcp_stream.hpp"
#include "net/watchdog.hpp"
#include "proto/proxy_protocol.hpp"

namespace porthole::relay {

namespace asio = net::asio;
namespace pp = proto::pp;

namespace {

metrics::Counter& accepted() {
  static auto& c = metrics::counter("porthole_relay_proxy_headers_total",
                                    "PROXY protocol headers accepted from --accept-proxy-protocol-from peers");
  return c;
}

// Reasons: the codec's (not_proxy = a listed peer sent no header, v1_syntax, ...), `timeout`,
// `closed` (the connection ended inside or before the header), `untrusted` (a header from a
// peer not listed).
metrics::Counter& refused(std::string_view reason) {
  return metrics::counter(fmt::format("porthole_relay_proxy_protocol_errors_total{{reason=\"{}\"}}", reason),
                          "Visitor connections closed by the PROXY protocol step, by reason");
}

std::string ip_of(const net::tcp::endpoint& ep) {
  auto a = ep.address();
  return a.to_string();
}

// From a peer that is not listed: passes every byte on, but watches the first ones; a
// connection that begins with "PROXY " or the v2 signature fails with a protocol error.
class RefuseHeader final : public net::ByteStream {
 public:
  RefuseHeader(net::ByteStream& inner, std::string who) : inner_(inner), who_(std::move(who)) {}

  net::Task<Result<net::Chunk>> read() override {
    if (decided_) return inner_.read();
    return watch();
  }
  net::Task<Result<void>> write(std::span<const std::uint8_t> bytes) override { return inner_.write(bytes); }
  net::Task<Result<void>> write_last(std::span<const std::uint8_t> bytes) override { return inner_.write_last(bytes); }
  void shutdown_write() override { inner_.shutdown_write(); }
  void abort(std::string_view reason) override { inner_.abort(reason); }

 private:
  net::Task<Result<net::Chunk>> watch() {
    auto c = co_await inner_.read();
    if (!c || c->empty()) {
      decided_ = true;
      co_return c;
    }
    static constexpr std::string_view v1 = "PROXY ";
    for (auto b : c->bytes()) {
      v1_ = v1_ && seen_ < v1.size() && b == static_cast<std::uint8_t>(v1[seen_]);
      v2_ = v2_ && seen_ < pp::kV2Signature.size() && b == pp::kV2Signature[seen_];
      ++seen_;
      const bool whole = (v1_ && seen_ == v1.size()) || (v2_ && seen_ == pp::kV2Signature.size());
      if (whole) {
        refused("untrusted").inc();
        spdlog::debug("visitor {}: sent a PROXY protocol header but is not in --accept-proxy-protocol-from; closed",
                     who_);
        inner_.abort("PROXY header from an untrusted peer");
        co_return make_error(Errc::protocol, "a PROXY protocol header from {}, which is not a trusted proxy", who_);
      }
      if (!v1_ && !v2_) {
        decided_ = true;
        break;
      }
    }
    co_return c;
  }

  net::ByteStream& inner_;
  std::string who_;
  bool decided_ = false;
  bool v1_ = true, v2_ = true;  // the bytes so far are a prefix of that signature
  std::size_t seen_ = 0;
};

// Uses what a parsed header carries, when it names IP endpoints.
void apply(const pp::Header& h, VisitorFront& f) {
  if (!h.has_addresses() || (h.family != pp::Family::inet && h.family != pp::Family::inet6)) return;
  f.addr = pp::format_address(h.source);
  f.ip = pp::format_ip(h.source);
  f.dest = pp::format_address(h.destination);
  f.carried = true;
}

}  // namespace

Result<std::shared_ptr<const ProxyGate>> ProxyGate::make(const config::RelayConfig& cfg) {
  auto g = std::make_shared<ProxyGate>();
  for (const auto& c : cfg.accept_proxy_protocol_from) {
    if (auto r = g->from_.add(c); !r) return make_error("--accept-proxy-protocol-from: {}", r.error().message);
  }
  g->timeout_ = cfg.proxy_header_timeout;
  return std::shared_ptr<const ProxyGate>(std::move(g));
}

bool ProxyGate::trusts(const net::tcp::endpoint& peer) const {
  if (from_.empty()) return false;
  return from_.contains(ip_of(peer));
}

net::Task<Result<VisitorFront>> ProxyGate::accept(net::ByteStream& raw, const net::tcp::endpoint& peer,
                                                  const net::tcp::endpoint& local) const {
  VisitorFront f;
  f.addr = net::format_endpoint(peer);
  f.ip = ip_of(peer);
  f.dest = net::format_endpoint(local);
  if (!trusts(peer)) {
    f.stream = std::make_unique<RefuseHeader>(raw, f.addr);
    co_return f;
  }
  auto h = co_await read_header(raw, peer, local);
  if (!h) co_return h.error();
  f.carried = h->carried;
  f.addr = std::move(h->addr);
  f.ip = std::move(h->ip);
  f.dest = std::move(h->dest);
  f.stream = std::make_unique<net::PrefixedStream>(raw, h->rest);
  co_return f;
}

net::Task<Result<CarriedHeader>> ProxyGate::read_header(net::ByteStream& raw, const net::tcp::endpoint& peer,
                                                        const net::tcp::endpoint& local) const {
  VisitorFront f;
  f.addr = net::format_endpoint(peer);
  f.ip = ip_of(peer);
  f.dest = net::format_endpoint(local);
  // A listed peer: the header is mandatory and comes first.
  auto ex = co_await asio::this_coro::executor;
  net::Watchdog dog(ex);
  dog.arm(timeout_, [&raw] { raw.abort("PROXY header timeout"); });
  std::vector<std::uint8_t> buf;
  pp::ParseResult r;
  for (;;) {
    auto c = co_await raw.read();
    if (!c || c->empty()) {
      const bool late = dog.fired();
      refused(late ? "timeout" : "closed").inc();
      const auto why = late ? fmt::format("no PROXY header within {} s", timeout_.count())
                            : std::string("the connection ended before a whole PROXY header");
      co_return make_error(Errc::protocol, "{}: {}", f.addr, why);
    }
    const auto got = c->bytes();
    buf.insert(buf.end(), got.begin(), got.end());
    r = pp::parse(buf);
    if (r.status != pp::Status::need_more) break;
  }
  dog.disarm();
  if (r.status == pp::Status::error) {
    refused(pp::reason_name(r.reason)).inc();
    co_return make_error(Errc::protocol, "{} (a trusted proxy): {}", f.addr, r.message);
  }
  accepted().inc();
  apply(r.header, f);
  spdlog::debug("visitor {} via proxy {}: PROXY v{} header", f.addr, net::format_endpoint(peer), r.header.version);
  CarriedHeader h;
  h.addr = std::move(f.addr);
  h.ip = std::move(f.ip);
  h.dest = std::move(f.dest);
  h.carried = f.carried;
  h.rest.assign(buf.begin() + static_cast<std::ptrdiff_t>(r.consumed), buf.end());
  co_return h;
}

}  // namespace porthole::relay
