#include "agent/health.hpp"

#include "agent/local_pool.hpp"
#include "net/unix_socket.hpp"
#include "agent/upstream_proxy.hpp"
#include "net/http_io.hpp"
#include "net/tcp_stream.hpp"
#include "net/watchdog.hpp"

namespace porthole::agent {

namespace http1 = proto::http1;

net::Task<Result<void>> check_health(const config::TunnelConfig& t) {
  if (t.proto != "http") {
    auto sock = co_await net::dial_local(t.local, std::chrono::duration_cast<std::chrono::milliseconds>(kHealthTimeout));
    if (!sock) co_return sock.error();
    co_return Result<void>{};
  }
  // The same kind of connection requests use (TLS for --upstream https), never pooled.
  LocalPool dialer(t.local, LocalPool::Upstream{.tls = t.upstream == "https", .insecure = t.upstream_insecure}, 0);
  bool reused = false;
  auto preamble = local_proxy_header(t.upstream_proxy_protocol);  // LOCAL: not on a visitor's behalf
  auto opened = co_await dialer.acquire(reused, preamble);
  if (!opened) co_return opened.error();
  auto& conn = **opened;
  const auto host = t.host_header == "preserve" || t.host_header == "rewrite" ? format_host_port(t.local) : t.host_header;
  const auto req = fmt::format("GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: porthole-health-check\r\nConnection: close\r\n\r\n",
                               t.health_check, host);
  auto w = co_await conn.write(net::bytes_of(req));
  if (!w) co_return w.error();
  net::Watchdog dog(co_await net::asio::this_coro::executor);
  dog.arm(kHealthTimeout, [&conn] { conn.abort("health check timed out"); });
  net::MessageReader reader(conn);
  auto r = co_await reader.read_response("GET", http1::Limits{});
  dog.disarm();
  if (r.status != net::HeadStatus::ok) {
    const auto why = r.status == net::HeadStatus::bad ? r.bad.message
                     : r.status == net::HeadStatus::eof ? std::string("no response")
                                                        : r.failed.message;
    co_return make_error("GET {}: {}", t.health_check, why);
  }
  if (r.head.status < 200 || r.head.status >= 400) {
    co_return make_error("GET {}: {} {}", t.health_check, r.head.status, r.head.reason);
  }
  co_return Result<void>{};
}

}  // namespace porthole::agent
