// "Which service is this port usually?": a built-in table of the ports people forward, then
// /etc/services. Pure lookups; the /etc/services text is passed in (or read once by default()).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "diag/sockdiag_codec.hpp"

namespace porthole::diag {

class ServiceNames {
 public:
  ServiceNames() = default;
  // Adds the entries of an /etc/services-format text ("name port/proto [aliases] [# comment]").
  // Malformed lines are skipped. Returns how many entries were added.
  std::size_t add_etc_services(std::string_view text);

  // Built-in name first (e.g. "Minecraft"), then /etc/services, else "".
  std::string lookup(std::uint16_t port, Proto proto) const;

  // The process-wide table: built-ins plus /etc/services read once.
  static const ServiceNames& system();

 private:
  std::map<std::pair<std::uint16_t, Proto>, std::string> etc_;
};

// The built-in name alone ("" when the port is not in the table).
std::string builtin_service(std::uint16_t port, Proto proto);

}  // namespace porthole::diag
