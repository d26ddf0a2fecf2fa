#include "relay/connect_join.hpp"

#include <spdlog/spdlog.h>

#include "core/hostname.hpp"
#include "core/metrics.hpp"
#include "net/pump.hpp"
#include "proto/messages.hpp"
#include "relay/exit_endpoint.hpp"
#include "relay/relay_exit.hpp"
#include "relay/scopes.hpp"

namespace porthole::relay {

namespace asio = net::asio;
using namespace asio::experimental::awaitable_operators;

namespace {

metrics::Counter& connects(std::string_view result) {
  auto make = [](const char* r) -> metrics::Counter& {
    return metrics::counter(fmt::format("porthole_relay_connects_total{{result=\"{}\"}}", r),
                            "porthole connect streams to private endpoints, by result");
  };
  if (result == "ok") {
    static auto& c = make("ok");
    return c;
  }
  if (result == "forbidden") {
    static auto& c = make("forbidden");
    return c;
  }
  static auto& c = make("no_endpoint");
  return c;
}

metrics::Gauge& open_gauge() {
  static auto& g = metrics::gauge("porthole_relay_connects_open", "porthole connect streams open now");
  return g;
}

// A UDP association's datagrams, one direction, until either stream ends (passed on).
net::Task<void> datagrams_one_way(std::shared_ptr<session::MuxStream> from, std::shared_ptr<session::MuxStream> to) {
  for (;;) {
    auto d = co_await from->read_datagram();
    if (!d) {
      to->reset(d.error());
      co_return;
    }
    if (!*d) {
      to->abort("the association ended");
      co_return;
    }
    (void)to->send_datagram(**d);  // dropped and counted by the session when it cannot go now
  }
}

net::Task<void> join(std::shared_ptr<session::MuxStream> client, std::shared_ptr<session::MuxStream> agent,
                     Pick pick, std::string label, bool exit, bool udp) {
  open_gauge().add(1);
  if (exit) {
    // The exit's answer (0x00, or a RESET whose code says why: forbidden, refused, ...) is
    // passed on with its code; pump() would turn a reset into a plain cancel.
    auto first = co_await agent->read();
    if (!first) {
      client->reset(first.error());
      open_gauge().add(-1);
      co_return;
    }
    if (!first->empty()) {
      auto w = co_await client->write(first->bytes());
      if (!w) {
        agent->reset(w.error());
        open_gauge().add(-1);
        co_return;
      }
    }
  }
  if (udp) {
    auto up = datagrams_one_way(client, agent);
    auto down = datagrams_one_way(agent, client);
    co_await (std::move(up) && std::move(down));
    open_gauge().add(-1);
    spdlog::debug("connect {}: UDP association done", label);
    co_return;
  }
  auto r = co_await net::pump(*client, *agent);
  open_gauge().add(-1);
  spdlog::debug("connect {}: done: {} bytes to the agent, {} back{}{}", label, r.a_to_b, r.b_to_a,
                r.error.empty() ? "" : ", ", r.error);
  (void)pick;  // counted as open on its member until here
}

}  // namespace

void join_connect(EndpointRegistry& registry, Store& store, const TokenRecord& token, const std::string& client,
                  std::shared_ptr<session::MuxStream> stream, std::string_view name, std::string_view target,
                  std::string_view transport) {
  if (!transport.empty() && transport != "udp") {
    connects("no_endpoint").inc();
    return stream->reset(make_error(Errc::protocol, "unknown transport '{}'", transport));
  }
  const bool udp = transport == "udp";
  const bool to_exit = udp || !target.empty();
  auto norm = normalize_private_name(name);
  if (!norm) {
    connects("no_endpoint").inc();
    return stream->reset(make_error(Errc::no_such_tunnel, "'{}' is not a private name: {}", name, norm.error().message));
  }
  if (*norm == kRelayExitName) {
    connects("no_endpoint").inc();
    return stream->reset(make_error(Errc::no_such_tunnel, "relay is the relay's own exit: use `porthole socks --via relay`"));
  }
  auto ep = registry.find("private", *norm);
  const auto owner = ep ? ep->token() : store.private_name_owner(*norm).value_or("");
  const bool own = !owner.empty() && owner == token.name;
  // An exit is judged by --allow-exit (or the older --allow-connect), a private endpoint by
  // --allow-connect; by the endpoint's kind when it is online, else by the stream's.
  const bool as_exit = ep ? is_exit_endpoint(*ep) : !target.empty();
  if (as_exit && !exit_allowed(token.scopes, *norm, own)) {
    connects("forbidden").inc();
    spdlog::warn("socks from {} (token {}) through exit {} refused: the token may not use it (allow-exit: {})", client,
                 token.name, *norm, token.scopes.allow_exit.empty() ? "its own exits only" : token.scopes.allow_exit);
    return stream->reset(make_error(Errc::forbidden,
                                    "this token may not use the exit {} (ask the relay's operator for "
                                    "`--allow-exit`)",
                                    *norm));
  }
  if (!as_exit && !connect_allowed(token.scopes, *norm, own)) {
    connects("forbidden").inc();
    spdlog::warn("connect from {} (token {}) to private name {} refused: the token may not reach it (allow-connect: {})",
                 client, token.name, *norm, token.scopes.allow_connect.empty() ? "its own names only"
                                                                              : token.scopes.allow_connect);
    return stream->reset(make_error(Errc::forbidden,
                                    "this token may not reach the private name {} (ask the relay's operator for "
                                    "`--allow-connect`)",
                                    *norm));
  }
  if (ep && is_exit_endpoint(*ep) != to_exit) {
    connects("no_endpoint").inc();
    return stream->reset(!to_exit
                             ? make_error(Errc::no_such_tunnel, "{} is an exit: use `porthole socks --via {}`", *norm, *norm)
                             : make_error(Errc::no_such_tunnel, "{} is a private endpoint, not an exit (porthole exit)", *norm));
  }
  if (target.size() > 300) {
    connects("no_endpoint").inc();
    return stream->reset(make_error(Errc::protocol, "exit target too long"));
  }
  auto pick = ep ? ep->pick() : std::nullopt;
  if (!pick) {
    connects("no_endpoint").inc();
    spdlog::info("connect from {} (token {}) to private name {}: no agent serves it now", client, token.name, *norm);
    return stream->reset(make_error(Errc::no_such_tunnel, "no agent serves the private name {} now", *norm));
  }
  proto::OpenMeta meta{pick->tunnel(), client, ""};
  meta.target = std::string(target);
  meta.transport = std::string(transport);
  auto out = pick->session().open_stream(proto::encode(meta));
  if (!out) {
    connects("no_endpoint").inc();
    return stream->reset(make_error(Errc::no_such_tunnel, "private name {}: {}", *norm, out.error().message));
  }
  connects("ok").inc();
  ep->count_visitor();
  spdlog::debug("connect from {} (token {}) to private name {}", client, token.name, *norm);
  auto ex = stream->session().transport().socket().get_executor();
  asio::co_spawn(
      ex,
      [c = std::move(stream), a = std::move(*out), p = std::move(*pick), label = client + " -> " + *norm,
       exit = to_exit, udp]() mutable {
        return join(std::move(c), std::move(a), std::move(p), std::move(label), exit, udp);
      },
      asio::detached);
}

}  // namespace porthole::relay
