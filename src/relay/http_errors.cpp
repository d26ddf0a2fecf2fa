#include "relay/http_errors.hpp"

#include <array>

#include <fmt/format.h>

#include "core/metrics.hpp"

namespace porthole::relay {

namespace {

struct FailureInfo {
  HttpFailure failure;
  std::string_view name;
  int status;
  std::string_view title;
};

constexpr FailureInfo kFailures[] = {
    {HttpFailure::unknown_host, "unknown_host", 404, "No tunnel here"},
    {HttpFailure::agent_offline, "agent_offline", 503, "Tunnel offline"},
    {HttpFailure::upstream_failed, "upstream_failed", 502, "Bad gateway"},
    {HttpFailure::upstream_timeout, "upstream_timeout", 504, "Gateway timeout"},
    {HttpFailure::bad_request, "bad_request", 400, "Bad request"},
    {HttpFailure::head_too_large, "head_too_large", 431, "Request header fields too large"},
    {HttpFailure::bad_response, "bad_response", 502, "Bad gateway"},
    {HttpFailure::method_not_allowed, "method_not_allowed", 405, "Method not allowed"},
    {HttpFailure::too_many_connections, "too_many_connections", 503, "Too many connections"},
    {HttpFailure::misdirected, "misdirected", 421, "Misdirected request"},
};

const FailureInfo& info(HttpFailure f) {
  for (const auto& i : kFailures) {
    if (i.failure == f) return i;
  }
  return kFailures[0];
}

metrics::Counter& counter_for(HttpFailure f) {
  // One counter per reason, all created once, in the table's order (thread-safe static init).
  static const auto counters = [] {
    std::array<metrics::Counter*, std::size(kFailures)> a{};
    for (std::size_t i = 0; i < a.size(); ++i) {
      a[i] = &metrics::counter(fmt::format("porthole_relay_http_errors_total{{reason=\"{}\"}}", kFailures[i].name),
                               "HTTP requests the relay answered itself, by reason");
    }
    return a;
  }();
  return *counters[static_cast<std::size_t>(&info(f) - kFailures)];
}

}  // namespace

std::string_view failure_name(HttpFailure f) { return info(f).name; }

void count_failure(HttpFailure f) { counter_for(f).inc(); }

std::string failure_response(HttpFailure f, std::string_view detail, bool html, int status, bool close_asked) {
  const auto& i = info(f);
  const int code = status != 0 ? status : i.status;
  const bool close = close_asked || code == 400 || code == 431 || code == 501 || code == 505 || code == 405 ||
                     f == HttpFailure::too_many_connections || f == HttpFailure::bad_response;
  return proto::http1::error_response(code, i.title, detail, html, close);
}

}  // namespace porthole::relay
