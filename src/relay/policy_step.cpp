#include "relay/policy_step.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <map>
#include <mutex>

#include "core/metrics.hpp"

namespace porthole::relay {

namespace http1 = proto::http1;

namespace {

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}
std::int64_t mono_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// One counter per reason label, made on first use (labels come from a fixed set in evaluate.cpp).
void count_denial(const std::string& reason, bool tcp) {
  static std::mutex mu;
  static std::map<std::string, metrics::Counter*> counters;
  const std::string label = fmt::format("{}{}", tcp ? "tcp_" : "", reason.empty() ? "rule" : reason);
  std::lock_guard lock(mu);
  auto& c = counters[label];
  if (c == nullptr) {
    c = &metrics::counter(fmt::format("porthole_policy_denials_total{{reason=\"{}\"}}", label),
                          "Visitors and requests denied by a traffic policy, by reason");
  }
  c->inc();
}

std::string answer_text(const policy::Decision& d, bool close) {
  std::string body = d.custom ? d.body : fmt::format("{} {}: {}\n", d.status, http1::reason_phrase(d.status), d.reason);
  std::string out = fmt::format("HTTP/1.1 {} {}\r\n", d.status, http1::reason_phrase(d.status));
  bool has_type = false;
  for (const auto& h : d.response_headers) {
    out += fmt::format("{}: {}\r\n", h.name, h.value);
    has_type = has_type || h.name == "Content-Type";
  }
  if (!has_type) out += "Content-Type: text/plain; charset=utf-8\r\n";
  out += fmt::format("Content-Length: {}\r\nCache-Control: no-store\r\n{}\r\n", body.size(),
                     close ? "Connection: close\r\n" : "");
  out += body;
  return out;
}

}  // namespace

bool tcp_allowed(const Endpoint& ep, const std::string& ip) {
  if (!ep.has_policy()) return true;
  policy::Input in;
  in.ip = ip;
  in.unix_seconds = unix_now();
  in.now_ms = mono_ms();
  const auto d = policy::decide(ep.relay_policy(), ep.policy(), policy::Phase::tcp_connect, in);
  if (!d.allow) {
    count_denial(d.counter, true);
    spdlog::debug("endpoint {}: visitor {} denied by rule {}: {}", ep.public_url(), ip, d.rule, d.reason);
  }
  return d.allow;
}

net::Task<RequestStep> request_policy(const Endpoint& ep, net::ByteStream& visitor, http1::RequestHead& head,
                                      const std::string& ip) {
  RequestStep step;
  if (!ep.has_policy()) co_return step;
  head.fields.remove(kIdentityHeader);  // only the relay says who a visitor is
  policy::Input in;
  in.ip = ip;
  in.method = head.method;
  in.host = head.host;
  in.target = head.target;
  in.headers.reserve(head.fields.list.size());
  for (const auto& f : head.fields.list) in.headers.push_back({f.name, f.value});
  in.unix_seconds = unix_now();
  in.now_ms = mono_ms();
  auto d = policy::decide(ep.relay_policy(), ep.policy(), policy::Phase::http_request, in);
  if (!d.allow) {
    count_denial(d.counter, false);
    spdlog::debug("http {}: {} {} from {} denied by rule {}: {}", head.host, head.method, head.target, ip, d.rule,
                  d.reason);
    // A body we do not read cannot be skipped safely: then the connection closes (announced).
    step.forward = false;
    step.keep_alive = head.keep_alive && head.body == http1::BodyKind::none;
    const auto text = answer_text(d, !step.keep_alive);
    auto w = co_await visitor.write(net::bytes_of(text));
    if (!w) step.keep_alive = false;
    co_return step;
  }
  for (const auto& n : d.remove_headers) head.fields.remove(n);
  for (const auto& h : d.add_headers) head.fields.add(h.name, h.value);
  if (d.new_target) head.target = *d.new_target;
  if (!d.identity.empty()) head.fields.set(kIdentityHeader, d.identity);
  co_return step;
}

void response_policy(const Endpoint& ep, const std::string& ip, const http1::RequestHead& request,
                     http1::ResponseHead& rh) {
  if (!ep.has_policy()) return;
  policy::Input in;
  in.ip = ip;
  in.method = request.method;
  in.host = request.host;
  in.target = request.target;
  in.status = rh.status;
  for (const auto& f : rh.fields.list) in.headers.push_back({f.name, f.value});
  in.unix_seconds = unix_now();
  in.now_ms = mono_ms();
  const auto d = policy::decide(ep.relay_policy(), ep.policy(), policy::Phase::http_response, in);
  for (const auto& n : d.remove_headers) rh.fields.remove(n);
  for (const auto& h : d.add_headers) rh.fields.add(h.name, h.value);
}

}  // namespace porthole::relay
