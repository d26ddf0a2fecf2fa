// porthole policy test FILE ...: which rule matches a request, why, and the decision.
// porthole policy hash-password: a password hash for basic-auth rules (docs/policy.md).
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "app/commands.hpp"
#include "config/policy_file.hpp"
#include "policy/basic_auth.hpp"
#include "policy/decision.hpp"

namespace porthole::app {

namespace {

struct TestOptions {
  std::string file, ip, method = "GET", url = "/", sni, mtls_subject;
  std::vector<std::string> headers;
  std::int64_t time = -1;
  int status = 0;
  bool tcp = false;
};

void print_decision(const policy::Decision& d, policy::Phase phase) {
  for (const auto& t : d.trace) std::cout << "  " << t << "\n";
  std::cout << "decision: ";
  if (d.allow) {
    std::cout << "allow" << (d.rule.empty() ? " (no rule decided)" : fmt::format(" (rule \"{}\")", d.rule)) << "\n";
    for (const auto& n : d.remove_headers) std::cout << "  remove header " << n << "\n";
    for (const auto& h : d.add_headers) std::cout << "  add header " << h.name << ": " << h.value << "\n";
    if (d.new_target) std::cout << "  rewrite target to " << *d.new_target << "\n";
    if (!d.identity.empty()) std::cout << "  identity " << d.identity << "\n";
    return;
  }
  if (phase == policy::Phase::tcp_connect) {
    std::cout << "close the connection (rule \"" << d.rule << "\"): " << d.reason << "\n";
    return;
  }
  std::cout << "answer " << d.status << " (rule \"" << d.rule << "\"): " << d.reason << "\n";
  for (const auto& h : d.response_headers) std::cout << "  " << h.name << ": " << h.value << "\n";
  if (d.custom && !d.body.empty()) std::cout << "  body: " << d.body.size() << " bytes\n";
}

int run_test(const TestOptions& o) {
  auto p = config::load_policy(o.file);
  if (!p) {
    std::cerr << p.error().message << "\n";
    return 2;
  }
  if (auto ip = policy::Ip::parse(o.ip); !ip) {
    std::cerr << "porthole policy test: --ip: " << ip.error().message << "\n";
    return 2;
  }
  // --url: http://HOST[:PORT]/path?query, or /path?query (the host from a Host header).
  std::string host, target = o.url;
  if (const auto scheme = o.url.find("://"); scheme != std::string::npos) {
    const auto rest = o.url.substr(scheme + 3);
    const auto slash = rest.find_first_of("/?");
    host = rest.substr(0, slash);
    target = slash == std::string::npos ? "/" : rest.substr(slash);
    if (!target.empty() && target.front() == '?') target = "/" + target;
    if (const auto colon = host.rfind(':'); colon != std::string::npos && host.find(']') == std::string::npos) {
      host = host.substr(0, colon);
    }
  }
  policy::Input in;
  std::vector<std::pair<std::string, std::string>> hs;
  for (const auto& h : o.headers) {
    const auto colon = h.find(':');
    if (colon == std::string::npos || colon == 0) {
      std::cerr << "porthole policy test: --header: expected NAME:VALUE\n";
      return 2;
    }
    std::string value = h.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(value.begin());
    hs.emplace_back(h.substr(0, colon), value);
    if (host.empty() && (h.substr(0, colon) == "Host" || h.substr(0, colon) == "host")) host = value;
  }
  for (const auto& [k, v] : hs) in.headers.push_back({k, v});
  in.ip = o.ip;
  in.scheme = o.url.starts_with("https://") ? "https" : "http";  // as the visitor came (oidc, webhook URLs)
  in.method = o.method;
  in.host = host;
  in.target = target;
  in.sni = o.sni;
  in.mtls_subject = o.mtls_subject;
  in.unix_seconds = o.time >= 0 ? o.time
                                : std::chrono::duration_cast<std::chrono::seconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count();
  std::cout << "policy " << o.file << ": " << (*p)->rules(policy::Phase::tcp_connect).size() << " on_tcp_connect, "
            << (*p)->rules(policy::Phase::http_request).size() << " on_http_request, "
            << (*p)->rules(policy::Phase::http_response).size() << " on_http_response rules\n";
  if (o.tcp) {
    std::cout << "connection from " << o.ip << (o.sni.empty() ? "" : " (sni " + o.sni + ")") << "\n";
    print_decision(policy::decide(nullptr, p->get(), policy::Phase::tcp_connect, in, true), policy::Phase::tcp_connect);
    return 0;
  }
  std::cout << "request " << o.method << " " << (host.empty() ? "" : std::string(in.scheme) + "://" + host) << target
            << " from " << o.ip
            << "\n";
  const auto d = policy::decide(nullptr, p->get(), policy::Phase::http_request, in, true);
  print_decision(d, policy::Phase::http_request);
  if (o.status > 0 && d.allow) {
    in.status = o.status;
    in.headers.clear();
    std::cout << "response " << o.status << "\n";
    print_decision(policy::decide(nullptr, p->get(), policy::Phase::http_response, in, true),
                   policy::Phase::http_response);
  }
  return 0;
}

// Reads a password: prompted twice without echo on a terminal, else the first line of stdin.
Result<std::string> read_password() {
  auto line = [] {
    std::string s;
    std::getline(std::cin, s);
    if (!s.empty() && s.back() == '\r') s.pop_back();
    return s;
  };
  if (isatty(STDIN_FILENO) == 0) return line();
  termios old{};
  tcgetattr(STDIN_FILENO, &old);
  termios quiet = old;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  std::cerr << "Password: " << std::flush;
  auto a = line();
  std::cerr << "\nAgain: " << std::flush;
  auto b = line();
  std::cerr << "\n";
  tcsetattr(STDIN_FILENO, TCSANOW, &old);
  if (a != b) return make_error("the passwords differ");
  return a;
}

int run_hash() {
  auto pw = read_password();
  if (!pw) {
    std::cerr << "porthole policy hash-password: " << pw.error().message << "\n";
    return 2;
  }
  if (pw->empty()) {
    std::cerr << "porthole policy hash-password: empty password\n";
    return 2;
  }
  auto h = policy::hash_password(*pw);
  if (!h) {
    std::cerr << "porthole policy hash-password: " << h.error().message << "\n";
    return 1;
  }
  std::cout << *h << "\n";
  return 0;
}

}  // namespace

void add_policy(CLI::App& app, Run& run) {
  auto* sub = app.add_subcommand("policy", "Test traffic policies and hash basic-auth passwords");
  sub->require_subcommand(1);
  auto o = std::make_shared<TestOptions>();
  auto* t = sub->add_subcommand("test", "Show which rule of a policy file matches a request, why, and the decision");
  t->add_option("FILE", o->file, "policy file (TOML, docs/policy.md)")->required();
  t->add_option("--ip", o->ip, "the visitor's address (IPv4 or IPv6)")->required();
  t->add_option("--method", o->method, "request method (default GET)");
  t->add_option("--url", o->url, "http://HOST/path?query or /path?query (default /)");
  t->add_option("--header", o->headers, "a request header NAME:VALUE (repeatable)");
  t->add_option("--sni", o->sni, "the TLS server name the visitor sent");
  t->add_option("--mtls-subject", o->mtls_subject, "the visitor's client certificate subject");
  t->add_option("--time", o->time, "evaluate at this Unix time (default now)");
  t->add_option("--status", o->status, "also run on_http_response for a response with this status")
      ->check(CLI::Range(100, 599));
  t->add_flag("--tcp", o->tcp, "run on_tcp_connect (a TCP connection) instead of on_http_request");
  t->callback([&run, o] { run = [o] { return run_test(*o); }; });
  auto* h = sub->add_subcommand("hash-password",
                                "Print an scrypt hash of a password (read from the terminal, or stdin) for basic-auth");
  h->callback([&run] { run = [] { return run_hash(); }; });
}

}  // namespace porthole::app
