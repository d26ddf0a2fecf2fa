// porthole demo: a relay, an agent and a sample web app in one process, on loopback.
#include <filesystem>
#include <iostream>
#include <sstream>

#include <fmt/format.h>
#include <openssl/rand.h>

#include "agent/agent.hpp"
#include "app/commands.hpp"
#include "app/relay_runner.hpp"
#include "app/sample_app.hpp"
#include "app/serve.hpp"
#include "core/encoding.hpp"
#include "inspect/server.hpp"

namespace porthole::app {

namespace {

struct DemoOptions {
  std::string data;
  int remote_port = 0;
  std::string inspect = "127.0.0.1:4040";
};

int run_demo(const DemoOptions& o) {
  net::asio::io_context io(1);
  auto app_port = start_sample_app(io);
  if (!app_port) {
    std::cerr << "porthole demo: " << app_port.error().message << "\n";
    return 1;
  }
  std::uint8_t secret[24];
  RAND_bytes(secret, sizeof secret);
  const auto token = "demo-" + encoding::hex_encode(secret);

  config::RelayConfig rc;
  rc.agents = "127.0.0.1:0";
  rc.admin = "127.0.0.1:0";  // any free port: the demo must not fail because 7001 is taken
  rc.http = "127.0.0.1:0";
  rc.https = "127.0.0.1:0";
  rc.data_dir = o.data.empty() ? (std::filesystem::temp_directory_path() / "porthole-demo").string() : o.data;
  rc.tokens = {token};
  std::ostringstream relay_out;  // the relay's banner is for operators; the demo prints its own
  auto relay = make_relay(io, rc, relay_out);
  if (!relay) {
    std::cerr << "porthole demo: " << relay.error().message << "\n";
    return 1;
  }
  config::AgentConfig ac;
  ac.relay = "127.0.0.1:" + std::to_string((*relay)->agent_port());
  ac.token = token;
  ac.relay_fingerprint = (*relay)->identity().fingerprint;
  ac.name = "demo";
  config::TunnelConfig t;
  t.name = "demo-web";
  t.local = HostPort{"127.0.0.1", *app_port};
  if (o.remote_port > 0) t.remote_port = static_cast<std::uint16_t>(o.remote_port);
  ac.tunnels.push_back(t);
  config::TunnelConfig h;  // the same app by name, through the relay's HTTP listener
  h.name = "demo-http";
  h.proto = "http";
  h.subdomain = "demo";
  h.local = t.local;
  ac.tunnels.push_back(h);

  std::cout << "porthole demo: a relay, an agent and a sample web app in one process (Ctrl-C to stop)\n"
            << "  relay   127.0.0.1:" << (*relay)->agent_port() << " (TLS 1.3, fingerprint SHA256:"
            << (*relay)->identity().fingerprint.substr(0, 16) << "…)\n"
            << "  app     http://127.0.0.1:" << *app_port << "/ (private: a page and a webhook receiver)\n";
  agent::Agent agent(io, ac, std::cout);
  // The HTTP story: every request to http://demo.localhost:PORT/ is captured; the inspector
  // shows it and replays it.
  std::shared_ptr<inspect::Recorder> recorder;
  std::unique_ptr<inspect::Server> inspector;
  if (o.inspect != "off") {
    recorder = std::make_shared<inspect::Recorder>(io.get_executor(), inspect::CaptureLimits{});
    agent.set_recorder(recorder);
    auto s = inspect::Server::start(io, agent, recorder, o.inspect);
    if (!s) {
      std::cerr << "porthole demo: inspector not started: " << s.error().message << "\n";
    } else {
      inspector = std::move(*s);
    }
  }
  const auto web = fmt::format("http://demo.localhost:{}/", (*relay)->http_port());
  std::cout << "\nOpen " << web << " in a browser (or: curl " << web << ").\n"
            << "Send it a webhook: curl -X POST " << web << "webhook -H 'Content-Type: application/json' -d "
            << "'{\"event\":\"demo\"}'\n";
  if (inspector) {
    std::cout << "Web Interface " << inspector->url() << "  <- see each request there, and replay it\n";
  }
  std::cout << "The public addresses follow.\n" << std::flush;
  if (auto r = agent.start(); !r) {
    std::cerr << "porthole demo: " << r.error().message << "\n";
    return 1;
  }
  return serve_until_signal(io, [&](std::function<void(int)> done) {
    agent.shutdown([&, done] { (*relay)->shutdown([done] { done(0); }); });
  });
}

}  // namespace

void add_demo(CLI::App& app, Run& run) {
  auto o = std::make_shared<DemoOptions>();
  auto* sub = app.add_subcommand("demo", "Relay + agent + a sample app in one process, to try porthole locally");
  sub->add_option("--data", o->data, "Relay state directory (default: a temp dir)");
  sub->add_option("--remote-port", o->remote_port, "Public port to ask for")->check(CLI::Range(1, 65535));
  sub->add_option("--inspect", o->inspect, "Inspector address, or off (default 127.0.0.1:4040, next free port if busy)");
  sub->callback([o, &run] { run = [o] { return run_demo(*o); }; });
}

}  // namespace porthole::app
