// porthole connect NAME --listen [BIND:]PORT | --stdio: reach a private endpoint through the
// relay, like `ssh -L` (a local port) or as an ssh ProxyCommand (stdin/stdout).
#include <unistd.h>

#include <csignal>
#include <iostream>
#include <memory>

#include <spdlog/spdlog.h>

#include "agent/connector.hpp"
#include "app/agent_options.hpp"
#include "app/commands.hpp"
#include "app/serve.hpp"
#include "core/hostname.hpp"
#include "net/listen.hpp"
#include "net/pump.hpp"
#include "net/stdio_stream.hpp"
#include "net/tcp_stream.hpp"
#include "net/unix_socket.hpp"

namespace porthole::app {

namespace {

namespace asio = net::asio;

constexpr std::chrono::seconds kOpenTimeout{15};  // how long a local connection waits for a session

struct ConnectOptions {
  AgentFlags agent;
  std::string name, listen;
  bool stdio = false;
};

// `peer` names the local client in logs ("" for a TCP one: its address).
net::Task<void> serve_local(agent::Connector& c, std::string name, net::tcp::socket sock, std::string peer = {}) {
  if (peer.empty()) {
    net::error_code ec;
    peer = net::format_endpoint(sock.remote_endpoint(ec));
  }
  net::TcpStream local(std::move(sock));
  auto stream = co_await c.open(name, kOpenTimeout);
  if (!stream) {
    spdlog::warn("connect {}: {}", name, stream.error().message);
    local.abort(stream.error().message);
    co_return;
  }
  auto r = co_await net::pump(local, **stream);
  if (!r.error.empty()) {
    spdlog::warn("connect {}: connection from {} ended: {}", name, peer, r.error);
  } else {
    spdlog::debug("connect {}: connection from {} done: {} bytes out, {} in", name, peer, r.a_to_b, r.b_to_a);
  }
}

net::Task<void> accept_loop(agent::Connector& c, std::string name, net::tcp::acceptor& acc) {
  while (acc.is_open()) {
    auto [ec, sock] = co_await acc.async_accept(net::use_nothrow);
    if (ec == asio::error::operation_aborted || !acc.is_open()) break;
    if (ec) {
      spdlog::warn("connect {}: accept failed: {}", name, ec.message());
      co_await net::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    asio::co_spawn(acc.get_executor(), serve_local(c, name, std::move(sock)), asio::detached);
  }
}

// --listen unix:/path: the same, on a unix socket (0600; a stale socket file is replaced, any
// other file refused; removed at exit).
net::Task<void> accept_unix(agent::Connector& c, std::string name, net::unix_stream::acceptor& acc, std::string path) {
  while (acc.is_open()) {
    auto [ec, sock] = co_await acc.async_accept(net::use_nothrow);
    if (ec == asio::error::operation_aborted || !acc.is_open()) break;
    if (ec) {
      spdlog::warn("connect {}: accept on unix:{} failed: {}", name, path, ec.message());
      co_await net::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    asio::co_spawn(acc.get_executor(), serve_local(c, name, net::as_tcp_socket(std::move(sock)), "unix:" + path),
                   asio::detached);
  }
}

int run_listen_unix(config::AgentConfig cfg, const std::string& name, const std::string& path) {
  asio::io_context io(1);
  agent::Connector c(io, cfg);
  if (auto r = c.start(); !r) {
    std::cerr << "porthole: " << r.error().message << "\n";
    return 2;
  }
  auto acc = net::listen_unix(io.get_executor(), path);
  if (!acc) {
    std::cerr << "porthole connect: --listen unix:" << path << ": " << acc.error().message << "\n";
    return 1;
  }
  std::cout << "Listening on unix:" << path << " -> private " << name << " through relay " << cfg.relay << std::endl;
  asio::co_spawn(io, accept_unix(c, name, **acc, path), asio::detached);
  const int status = serve_until_signal(io, [&](std::function<void(int)> done) {
    net::error_code ec;
    (*acc)->close(ec);
    c.stop();
    done(0);
  });
  net::unlink_socket(path);
  return status;
}

int run_listen(config::AgentConfig cfg, const std::string& name, const HostPort& at) {
  asio::io_context io(1);
  agent::Connector c(io, cfg);
  if (auto r = c.start(); !r) {
    std::cerr << "porthole: " << r.error().message << "\n";
    return 2;
  }
  auto acc = net::listen_tcp(io.get_executor(), at.host, at.port);
  if (!acc) {
    std::cerr << "porthole connect: --listen " << format_host_port(at) << ": " << acc.error().message << "\n";
    return 1;
  }
  net::error_code ec;
  const auto bound = (*acc)->local_endpoint(ec);
  std::cout << "Listening on " << net::format_endpoint(bound) << " -> private " << name << " through relay "
            << cfg.relay << std::endl;
  asio::co_spawn(io, accept_loop(c, name, **acc), asio::detached);
  return serve_until_signal(io, [&](std::function<void(int)> done) {
    (*acc)->close(ec);
    c.stop();
    done(0);
  });
}

// ssh's ProxyCommand: stdin/stdout are the connection. Ends when both directions are done, on
// an error (exit 1, the reason on stderr) or on SIGHUP/SIGINT/SIGTERM (ssh sends SIGHUP).
int run_stdio(config::AgentConfig cfg, const std::string& name) {
  if (spdlog::get_level() == spdlog::level::info) spdlog::set_level(spdlog::level::warn);  // stderr is ssh's terminal
  std::signal(SIGPIPE, SIG_IGN);
  asio::io_context io(1);
  agent::Connector c(io, cfg);
  if (auto r = c.start(); !r) {
    std::cerr << "porthole: " << r.error().message << "\n";
    return 2;
  }
  int status = 1;
  asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
  signals.async_wait([&](const net::error_code& ec, int) {
    if (ec) return;
    c.stop();
    io.stop();
  });
  asio::co_spawn(
      io,
      [&]() -> net::Task<void> {
        auto stream = co_await c.open(name, kOpenTimeout);
        if (!stream) {
          std::cerr << "porthole connect " << name << ": " << stream.error().message << "\n";
        } else {
          net::StdioStream stdio(io.get_executor(), STDIN_FILENO, STDOUT_FILENO);
          auto r = co_await net::pump(stdio, **stream);
          if (r.error.empty()) {
            status = 0;
          } else {
            std::cerr << "porthole connect " << name << ": " << r.error << "\n";
          }
        }
        c.stop();
        net::error_code ignored;
        signals.cancel(ignored);
      },
      asio::detached);
  io.run();
  return status;
}

int run_connect(const ConnectOptions& o) {
  auto cfg = resolve_agent_config(o.agent);
  if (!cfg) {
    std::cerr << "porthole: " << cfg.error().message << "\n";
    return 2;
  }
  auto name = normalize_private_name(o.name);
  if (!name) {
    std::cerr << "porthole connect: " << o.name << ": " << name.error().message << "\n";
    return 2;
  }
  if (o.stdio == !o.listen.empty()) {
    std::cerr << "porthole connect: give --listen [BIND:]PORT|unix:/PATH or --stdio (one of them)\n";
    return 2;
  }
  if (o.stdio) return run_stdio(std::move(*cfg), *name);
  auto at = parse_local_address(o.listen, "127.0.0.1", true);
  if (!at) {
    std::cerr << "porthole connect: --listen " << o.listen << ": " << at.error().message << "\n";
    return 2;
  }
  if (is_unix_address(*at)) return run_listen_unix(std::move(*cfg), *name, std::string(unix_path(*at)));
  return run_listen(std::move(*cfg), *name, *at);
}

}  // namespace

void add_connect(CLI::App& app, Run& run) {
  auto o = std::make_shared<ConnectOptions>();
  auto* sub = app.add_subcommand("connect", "Reach a private endpoint through the relay (like ssh -L, or as ProxyCommand)");
  sub->add_option("name", o->name, "The private name (as `porthole tcp PORT --private NAME` registered it)")->required();
  sub->add_option("--listen", o->listen, "Open a local port leading to it: [BIND:]PORT (default bind 127.0.0.1), or unix:/PATH (a unix socket, 0600)");
  sub->add_flag("--stdio", o->stdio, "Join stdin/stdout to it (ssh -o ProxyCommand=\"porthole connect %h --stdio\")");
  add_agent_flags(*sub, o->agent);
  sub->callback([o, &run] { run = [o] { return run_connect(*o); }; });
}

}  // namespace porthole::app
