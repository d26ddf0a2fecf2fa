#include "app/agent_options.hpp"

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "agent/agent.hpp"
#include "app/sensitive_check.hpp"
#include "app/serve.hpp"
#include "app/status_screen.hpp"
#include "inspect/server.hpp"
#include "config/config.hpp"

namespace porthole::app {

void add_agent_flags(CLI::App& sub, AgentFlags& f) {
  sub.add_option("--config", f.config_file, "Agent config file (default $XDG_CONFIG_HOME/porthole/porthole.toml)");
  sub.add_option("--relay", f.relay, "Relay HOST:PORT (env PORTHOLE_RELAY)");
  sub.add_option("--token", f.token, "Agent token (env PORTHOLE_TOKEN)");
  sub.add_option("--relay-fingerprint", f.relay_fingerprint, "Expected SHA-256 of the relay certificate");
  sub.add_option("--relay-ca", f.relay_ca, "CA bundle that signs the relay certificate");
  sub.add_option("--name", f.name, "Agent name shown on the relay (default: host name)");
  sub.add_option("--inspect", f.inspect, "Inspector address, or off (default 127.0.0.1:4040)");
  sub.add_option("--inspect-memory", f.inspect_memory, "Memory for captured requests, oldest dropped first (64MiB)");
  sub.add_option("--inspect-body-limit", f.inspect_body_limit, "Bytes kept of each captured body; the rest is counted (1MiB)");
  sub.add_option("--inspect-db", f.inspect_db,
                 "Keep captures in this SQLite file across restarts (\"state\": $XDG_STATE_HOME/porthole/captures.db)");
  sub.add_option("--log", f.log, "stdout or stderr: plain log lines there instead of the status screen on a terminal")
      ->check(CLI::IsMember({"stdout", "stderr"}));
  sub.add_flag("--exit-on-failure", f.exit_on_failure, "Exit with status 1 instead of reconnecting");
  sub.add_option("--heartbeat-interval", f.heartbeat_interval, "Ping the relay after this much idle time (3s)");
  sub.add_option("--heartbeat-timeout", f.heartbeat_timeout, "Declare the relay dead after this much silence (10s)");
}

Result<config::AgentConfig> resolve_agent_config(const AgentFlags& f) {
  config::AgentConfig cfg;
  std::string path = f.config_file;
  if (path.empty()) {
    auto def = config::default_agent_config_path();
    std::error_code ec;
    if (std::filesystem::exists(def, ec)) path = def;
  }
  if (!path.empty()) {
    auto loaded = config::load_agent_config(path);
    if (!loaded) return loaded.error();
    cfg = std::move(*loaded);
  }
  if (const char* e = std::getenv("PORTHOLE_RELAY"); e && *e) cfg.relay = e;
  if (const char* e = std::getenv("PORTHOLE_TOKEN"); e && *e) cfg.token = e;
  if (!f.relay.empty()) cfg.relay = f.relay;
  if (!f.token.empty()) cfg.token = f.token;
  if (!f.relay_fingerprint.empty()) {
    auto fp = config::normalize_fingerprint(f.relay_fingerprint);
    if (!fp) return make_error("--relay-fingerprint: {}", fp.error().message);
    cfg.relay_fingerprint = *fp;
  }
  if (!f.relay_ca.empty()) cfg.relay_ca = f.relay_ca;
  if (!f.name.empty()) cfg.name = f.name;
  if (!f.inspect.empty()) cfg.inspect = f.inspect;
  if (!f.inspect_db.empty()) cfg.inspect_db = f.inspect_db;
  if (f.exit_on_failure) cfg.exit_on_failure = true;
  auto dur = [](const std::string& text, const char* flag, config::Seconds& into) -> Result<void> {
    if (text.empty()) return {};
    auto d = config::parse_duration(text);
    if (!d) return make_error("{}: {}", flag, d.error().message);
    into = std::chrono::duration_cast<config::Seconds>(*d);
    if (into.count() < 1) return make_error("{}: must be at least 1s", flag);
    return {};
  };
  if (auto r = dur(f.heartbeat_interval, "--heartbeat-interval", cfg.heartbeat.interval); !r) return r.error();
  if (auto r = dur(f.heartbeat_timeout, "--heartbeat-timeout", cfg.heartbeat.timeout); !r) return r.error();
  return cfg;
}

Result<std::size_t> parse_size(std::string_view text) {
  std::size_t n = 0;
  std::size_t i = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    if (n > (SIZE_MAX - 9) / 10) return make_error("'{}' is too large", text);
    n = n * 10 + static_cast<std::size_t>(text[i++] - '0');
  }
  if (i == 0) return make_error("'{}' is not a size (examples: 64MiB, 512KiB, 1000000)", text);
  std::string unit(text.substr(i));
  for (auto& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::size_t mult = 1;
  if (unit.empty() || unit == "b") {
    mult = 1;
  } else if (unit == "k" || unit == "kib" || unit == "kb") {
    mult = 1024;
  } else if (unit == "m" || unit == "mib" || unit == "mb") {
    mult = 1024 * 1024;
  } else if (unit == "g" || unit == "gib" || unit == "gb") {
    mult = 1024ull * 1024 * 1024;
  } else {
    return make_error("'{}': unknown unit (B, KiB, MiB, GiB)", text);
  }
  if (n > SIZE_MAX / mult) return make_error("'{}' is too large", text);
  return n * mult;
}

std::string resolve_inspect_db(const std::string& value) {
  if (value != "state") return value;
  const char* xdg = std::getenv("XDG_STATE_HOME");
  if (xdg != nullptr && xdg[0] == '/') return std::string(xdg) + "/porthole/captures.db";
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr && home[0] != '\0' ? home : ".") + "/.local/state/porthole/captures.db";
}

int run_agent(config::AgentConfig cfg, const AgentFlags& flags) {
  inspect::CaptureLimits limits;
  for (auto [text, flag, into] : {std::tuple{&flags.inspect_memory, "--inspect-memory", &limits.memory},
                                  {&flags.inspect_body_limit, "--inspect-body-limit", &limits.body}}) {
    if (text->empty()) continue;
    auto v = parse_size(*text);
    if (!v) {
      std::cerr << "porthole: " << flag << ": " << v.error().message << "\n";
      return 2;
    }
    *into = *v;
  }
  if (auto r = check_sensitive_tunnels(cfg); !r) {
    std::cerr << "porthole: " << r.error().message << "\n";
    return 2;
  }
  net::asio::io_context io(1);
  const bool inspect_on = cfg.inspect != "off";
  const auto inspect_addr = cfg.inspect;
  const auto inspect_db = resolve_inspect_db(cfg.inspect_db);
  if (flags.log == "stdout") {  // like ngrok's --log stdout: the log lines go to stdout
    auto logger = spdlog::default_logger();
    auto sink = std::make_shared<spdlog::sinks::stdout_color_sink_mt>();
    if (!logger->sinks().empty()) sink->set_level(logger->sinks().front()->level());
    sink->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ %v");
    logger->sinks() = {sink};
  }
  // On a terminal the status screen shows the Forwarding lines; stdout stays plain otherwise.
  const bool screen = flags.log.empty() && StatusScreen::available();
  std::ostringstream hidden;
  agent::Agent agent(io, std::move(cfg), screen ? static_cast<std::ostream&>(hidden) : std::cout);
  std::shared_ptr<inspect::Recorder> recorder;
  std::unique_ptr<inspect::Server> server;
  if (inspect_on) {
    recorder = std::make_shared<inspect::Recorder>(io.get_executor(), limits);
    if (!inspect_db.empty()) {
      // A file that cannot be used costs the persistence, never the agent.
      auto n = recorder->attach_db(inspect_db);
      if (!n) {
        spdlog::warn("captures not persisted: {}", n.error().message);
      } else {
        spdlog::info("inspect db {}: {} captures loaded", inspect_db, *n);
      }
    }
    agent.set_recorder(recorder);
    auto s = inspect::Server::start(io, agent, recorder, inspect_addr);
    if (!s) {
      // The tunnels matter more than the inspector: go on without it, and say so.
      spdlog::warn("inspector not started: {} (--inspect ADDR to choose another, or --inspect off)", s.error().message);
    } else {
      server = std::move(*s);
      if (!screen) std::cout << "Web Interface " << server->url() << std::endl;
    }
  }
  std::unique_ptr<StatusScreen> status_screen;
  int fatal_status = -1;
  agent.on_fatal([&](int status) {
    fatal_status = status;
    io.stop();
  });
  if (auto r = agent.start(); !r) {
    std::cerr << "porthole: " << r.error().message << "\n";
    return 2;
  }
  if (screen) status_screen = std::make_unique<StatusScreen>(io, agent, recorder, server ? server->url() : "");
  int status = serve_until_signal(io, [&](std::function<void(int)> done) {
    agent.shutdown([done] { done(0); });
  });
  status_screen.reset();  // the terminal as it was, before anything else is printed
  return fatal_status >= 0 ? fatal_status : status;
}

}  // namespace porthole::app
