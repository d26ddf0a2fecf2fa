#include "app/forward_runner.hpp"

#include <csignal>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include <spdlog/spdlog.h>

#include "core/metrics.hpp"
#include "forward/file_watch.hpp"
#include "forward/metrics_server.hpp"

namespace porthole::app {

namespace {

using forward::Listener;
using forward::Rule;

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error("{}: cannot read: {}", path, std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string ports_text(const PortRange& r) {
  return r.lo == r.hi ? std::to_string(r.lo) : fmt::format("{}-{}", r.lo, r.hi);
}

class Runner {
 public:
  explicit Runner(const ForwardSettings& s) : s_(s), fwd_(s.options) {}

  // The rule set of the flags plus the file's text.
  Result<std::pair<std::vector<Rule>, std::vector<Listener>>> load(const std::string* file_text) {
    std::vector<Rule> rules = s_.flag_rules;
    if (file_text != nullptr) {
      auto fr = forward::parse_rules_file(*file_text, s_.rules_file);
      if (!fr) return fr.error();
      rules.insert(rules.end(), fr->begin(), fr->end());
    }
    auto ls = forward::expand(rules);
    if (!ls) return ls.error();
    return std::make_pair(std::move(rules), std::move(*ls));
  }

  // Startup: 2 for bad rules, 1 when a socket cannot be bound, 0 when running.
  int start() {
    std::string text;
    if (!s_.rules_file.empty()) {
      auto t = read_file(s_.rules_file);
      if (!t) {
        std::cerr << "porthole forward: " << t.error().message << "\n";
        return 2;
      }
      text = *t;
    }
    auto loaded = load(s_.rules_file.empty() ? nullptr : &text);
    if (!loaded) {
      std::cerr << "porthole forward: " << loaded.error().message << "\n";
      return 2;
    }
    auto d = fwd_.apply(loaded->second);
    if (!d) {
      std::cerr << "porthole forward: " << d.error().message << "\n";
      return 1;
    }
    last_text_ = text;
    announce(loaded->first, *d);
    return 0;
  }

  void reload(const char* why) {
    static auto& ok = metrics::counter("porthole_forward_reloads_total{result=\"ok\"}", "Rules file reloads");
    static auto& bad = metrics::counter("porthole_forward_reloads_total{result=\"rejected\"}", "Rules file reloads");
    auto t = read_file(s_.rules_file);
    if (t && *t == last_text_ && std::string_view(why) == "changed") return;  // touched, not changed
    auto loaded = t ? load(&*t) : Result<std::pair<std::vector<Rule>, std::vector<Listener>>>(t.error());
    Result<forward::Diff> d = loaded ? fwd_.apply(loaded->second) : Result<forward::Diff>(loaded.error());
    if (!d) {
      bad.inc();
      std::cerr << "porthole forward: " << s_.rules_file << " rejected (" << why
                << "); the running rules stay:\n" << d.error().message << std::endl;
      return;
    }
    ok.inc();
    last_text_ = *t;
    std::cout << fmt::format("Reloaded {} ({}): {} added, {} changed, {} removed, {} unchanged", s_.rules_file, why,
                             d->added.size(), d->changed.size(), d->removed.size(), d->unchanged)
              << std::endl;
    announce(loaded->first, *d);
  }

 private:
  // One "Forwarding" line per rule that added or changed ports, and the warning for rules that
  // open a port to a network.
  void announce(const std::vector<Rule>& rules, const forward::Diff& d) {
    std::set<std::string> fresh;
    for (const auto* set : {&d.added, &d.changed}) {
      for (const auto& l : *set) fresh.insert(l.origin);
    }
    for (const auto& r : rules) {
      if (!fresh.contains(r.origin)) continue;
      const auto listen = format_host_port(r.bind_host, 0);
      const auto bind = listen.substr(0, listen.size() - 1) + ports_text(r.ports);
      const auto tgt = format_host_port(r.target_host, 0);
      const bool unix_target = is_unix_address(HostPort{r.target_host, 0});  // "unix:/path", no port
      std::cout << fmt::format("Forwarding {} {} -> {}{}{}", forward::proto_name(r.proto), bind,
                               unix_target ? tgt : tgt.substr(0, tgt.size() - 1),
                               unix_target ? std::string() : ports_text(r.target_ports),
                               r.allow.empty() ? "" : fmt::format(" (allow {})", fmt::join(r.allow, ",")))
                << std::endl;
      if (!forward::is_loopback_host(r.bind_host)) {
        std::cerr << fmt::format(
                         "porthole forward: warning: {} {} is open to every network this machine is on, not only "
                         "to itself ({}){}",
                         forward::proto_name(r.proto), bind, r.origin,
                         r.allow.empty() ? "; --allow CIDR limits who may connect" : "")
                  << std::endl;
      }
    }
  }

  const ForwardSettings& s_;
  forward::Forwarder fwd_;
  std::string last_text_;
};

}  // namespace

int run_forward(const ForwardSettings& s) {
  std::signal(SIGPIPE, SIG_IGN);
  net::asio::io_context io{1};
  std::shared_ptr<forward::MetricsServer> metrics_server;
  if (!s.metrics_addr.empty()) {
    auto m = forward::MetricsServer::start(io.get_executor(), s.metrics_addr);
    if (!m) {
      std::cerr << "porthole forward: " << m.error().message << "\n";
      return 1;
    }
    metrics_server = *m;
    std::cout << "Metrics on http://" << format_host_port(s.metrics_addr.substr(0, s.metrics_addr.rfind(':')), metrics_server->port())
              << "/metrics" << std::endl;
  }
  Runner runner(s);
  if (const int rc = runner.start(); rc != 0) return rc;
  std::shared_ptr<forward::FileWatch> watch;
  if (!s.rules_file.empty()) {
    watch = forward::FileWatch::start(io.get_executor(), s.rules_file, [&runner] { runner.reload("changed"); });
  }
  net::asio::signal_set stop(io, SIGINT, SIGTERM);
  stop.async_wait([&](const net::error_code& ec, int) {
    if (ec) return;
    spdlog::info("stopping");
    io.stop();
  });
  net::asio::signal_set hup(io, SIGHUP);
  std::function<void(const net::error_code&, int)> on_hup = [&](const net::error_code& ec, int) {
    if (ec) return;
    if (s.rules_file.empty()) {
      spdlog::warn("SIGHUP: no --rules file to reload");
    } else {
      runner.reload("SIGHUP");
    }
    hup.async_wait(on_hup);
  };
  hup.async_wait(on_hup);
  io.run();
  if (watch) watch->stop();
  if (metrics_server) metrics_server->stop();
  return 0;
}

}  // namespace porthole::app
