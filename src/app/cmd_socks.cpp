// porthole socks [--listen 127.0.0.1:1080] --via NAME [--user U:P]: a local SOCKS5 and HTTP
// proxy whose connections leave through the exit NAME (`porthole exit NAME`), like `ssh -D`
// (docs/socks.md). The session to the relay is the Connector's (reconnects like an agent).
#include <iostream>
#include <memory>

#include <spdlog/spdlog.h>

#include "agent/connector.hpp"
#include "agent/socks_server.hpp"
#include "app/agent_options.hpp"
#include "app/commands.hpp"
#include "app/serve.hpp"
#include "core/hostname.hpp"
#include "net/listen.hpp"
#include "net/tcp_stream.hpp"

namespace porthole::app {

namespace {

namespace asio = net::asio;

struct SocksOptions {
  AgentFlags agent;
  std::string listen = "127.0.0.1:1080", via, user;
};

net::Task<void> accept_loop(agent::Connector& c, const agent::SocksSettings& s, net::tcp::acceptor& acc) {
  while (acc.is_open()) {
    auto [ec, sock] = co_await acc.async_accept(net::use_nothrow);
    if (ec == asio::error::operation_aborted || !acc.is_open()) break;
    if (ec) {
      spdlog::warn("socks: accept failed: {}", ec.message());
      co_await net::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    asio::co_spawn(acc.get_executor(), agent::serve_socks_client(c, s, std::move(sock)), asio::detached);
  }
}

int run_socks(const SocksOptions& o) {
  auto cfg = resolve_agent_config(o.agent);
  if (!cfg) {
    std::cerr << "porthole: " << cfg.error().message << "\n";
    return 2;
  }
  if (o.via.empty()) {
    std::cerr << "porthole socks: --via NAME is required (the exit: `porthole exit NAME --allow-dest ...` on the "
                 "machine whose network the connections should leave from, or `relay` for the relay itself)\n";
    return 2;
  }
  agent::SocksSettings s;
  auto via = normalize_private_name(o.via);
  if (!via) {
    std::cerr << "porthole socks: --via " << o.via << ": " << via.error().message << "\n";
    return 2;
  }
  s.via = *via;
  if (!o.user.empty()) {
    const auto colon = o.user.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == o.user.size() || colon > 255 ||
        o.user.size() - colon - 1 > 255) {
      std::cerr << "porthole socks: --user: give USER:PASSWORD (each 1-255 bytes)\n";
      return 2;
    }
    s.user = std::pair{o.user.substr(0, colon), o.user.substr(colon + 1)};
  }
  auto at = parse_host_port(o.listen, "127.0.0.1", true);
  if (!at) {
    std::cerr << "porthole socks: --listen " << o.listen << ": " << at.error().message << "\n";
    return 2;
  }
  asio::io_context io(1);
  agent::Connector c(io, *cfg);
  if (auto r = c.start(); !r) {
    std::cerr << "porthole: " << r.error().message << "\n";
    return 2;
  }
  auto acc = net::listen_tcp(io.get_executor(), at->host, at->port);
  if (!acc) {
    std::cerr << "porthole socks: --listen " << format_host_port(*at) << ": " << acc.error().message << "\n";
    return 1;
  }
  net::error_code ec;
  const auto bound = (*acc)->local_endpoint(ec);
  std::cout << "SOCKS5 and HTTP proxy on " << net::format_endpoint(bound) << " -> exit " << s.via << " through relay "
            << cfg->relay << std::endl;
  if (!s.user && !bound.address().is_loopback()) {
    spdlog::warn("socks: listening on {} without --user: anyone who reaches this port may use exit {}",
                 net::format_endpoint(bound), s.via);
  }
  asio::co_spawn(io, accept_loop(c, s, **acc), asio::detached);
  return serve_until_signal(io, [&](std::function<void(int)> done) {
    (*acc)->close(ec);
    c.stop();
    done(0);
  });
}

}  // namespace

void add_socks(CLI::App& app, Run& run) {
  auto o = std::make_shared<SocksOptions>();
  auto* sub = app.add_subcommand("socks", "A local SOCKS5 + HTTP proxy whose connections leave through an exit "
                                          "(like ssh -D)");
  sub->add_option("--listen", o->listen, "Where to listen: [BIND:]PORT (default 127.0.0.1:1080)");
  sub->add_option("--via", o->via, "The exit's name (`porthole exit NAME`), or `relay`: the relay itself");
  sub->add_option("--user", o->user, "Require USER:PASSWORD from clients (SOCKS5 RFC 1929, HTTP Proxy-Authorization)");
  add_agent_flags(*sub, o->agent);
  sub->callback([o, &run] { run = [o] { return run_socks(*o); }; });
}

}  // namespace porthole::app
