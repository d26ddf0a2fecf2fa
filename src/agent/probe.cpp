#include "agent/probe.hpp"

#include "agent/relay_link.hpp"
#include "net/signal.hpp"
#include "session/session.hpp"

namespace porthole::agent {

namespace asio = net::asio;
using namespace asio::experimental::awaitable_operators;

namespace {

net::Task<Result<ProbeResult>> probe(const config::AgentConfig& cfg, std::uint16_t port) {
  auto ctx = net::make_client_context(relay_trust(cfg));
  if (!ctx) co_return ctx.error();
  auto link = co_await dial_relay(cfg, **ctx);
  if (!link) co_return link.error();
  auto session = std::make_shared<session::Session>(std::move(link->tls), proto::Role::client,
                                                    session::SessionOptions{}, "probe");
  std::optional<Result<ProbeResult>> answer;
  net::Signal done(co_await asio::this_coro::executor);
  session::SessionCallbacks cb;
  cb.on_control = [&](std::string_view m) {
    auto msg = proto::decode_control(m);
    if (!msg) return;
    if (auto* r = std::get_if<proto::ProbeResult>(&*msg)) {
      answer = ProbeResult{r->observed_ip, r->reachable, r->detail};
    } else if (auto* f = std::get_if<proto::Fatal>(&*msg)) {
      answer = make_error("the relay refused the probe ({}): {}", f->code, f->message);
    }
    if (answer) done.notify();
  };
  cb.on_close = [&](std::string_view reason) {
    if (!answer) answer = make_error("relay closed the session: {}", reason);
    done.notify();
  };
  session->set_callbacks(std::move(cb));
  session->start();
  session->send_control(proto::encode(link->hello));
  session->send_control(proto::encode(proto::Probe{port}));
  while (!answer) co_await done.wait();
  session->set_callbacks({});
  session->close("probe done");
  co_return std::move(*answer);
}

}  // namespace

Result<ProbeResult> probe_via_relay(const config::AgentConfig& cfg, std::uint16_t port, std::chrono::seconds timeout) {
  asio::io_context io;
  std::optional<Result<ProbeResult>> out;
  asio::co_spawn(
      io,
      [&]() -> net::Task<void> {
        asio::steady_timer t(io, timeout);
        auto r = co_await (probe(cfg, port) || t.async_wait(net::use_nothrow));
        if (r.index() == 0) {
          out = std::move(std::get<0>(r));
        } else {
          out = make_error("the relay did not answer within {}s", timeout.count());
        }
        io.stop();  // whatever the session still has pending dies with the io_context
      },
      asio::detached);
  io.run();
  if (!out) return make_error("probe did not complete");
  return std::move(*out);
}

}  // namespace porthole::agent
