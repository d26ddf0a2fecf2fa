#include "acme/sink.hpp"

#include <fmt/format.h>

#include "core/metrics.hpp"

namespace porthole::acme {

std::optional<std::string> Http01Board::response_for(std::string_view method, std::string_view target) const {
  if ((method != "GET" && method != "HEAD") || !target.starts_with(kPrefix)) return std::nullopt;
  auto it = answers_.find(target.substr(kPrefix.size()));
  if (it == answers_.end()) return std::nullopt;
  static auto& served = metrics::counter("porthole_acme_http01_served_total", "HTTP-01 challenge responses served");
  served.inc();
  return fmt::format(
      "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n"
      "Cache-Control: no-store\r\nConnection: close\r\n\r\n{}",
      it->second.size(), method == "HEAD" ? std::string_view() : std::string_view(it->second));
}

}  // namespace porthole::acme
