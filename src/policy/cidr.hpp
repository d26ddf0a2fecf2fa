// CIDR lists (IPv4 and IPv6; an IPv4-mapped IPv6 address matches IPv4 entries). Pure: parsed
// once, matched per connection without allocation.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace porthole::policy {

// An address as 16 bytes (IPv4 as IPv4-mapped IPv6).
struct Ip {
  std::array<std::uint8_t, 16> bytes{};
  static Result<Ip> parse(std::string_view text);  // "1.2.3.4", "::1", "::ffff:1.2.3.4"
};

class CidrSet {
 public:
  // "10.0.0.0/8", "2001:db8::/32", or a single address. The error names the entry.
  Result<void> add(std::string_view cidr);
  bool contains(const Ip& ip) const;
  bool contains(std::string_view ip_text) const;  // false for text that is not an address
  bool empty() const { return entries_.empty(); }

 private:
  struct Entry {
    Ip net;
    int prefix = 128;  // in IPv6 bits (IPv4 /n is stored as /96+n)
  };
  std::vector<Entry> entries_;
};

}  // namespace porthole::policy
