#include "policy/cidr.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace porthole::policy {

Result<Ip> Ip::parse(std::string_view text) {
  if (text.size() > 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  if (text.empty() || text.size() >= 64) return make_error("'{}' is not an IP address", text);
  char buf[64];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  Ip ip;
  in_addr v4{};
  if (inet_pton(AF_INET, buf, &v4) == 1) {
    ip.bytes[10] = 0xff;
    ip.bytes[11] = 0xff;
    std::memcpy(ip.bytes.data() + 12, &v4, 4);
    return ip;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, buf, &v6) == 1) {
    std::memcpy(ip.bytes.data(), &v6, 16);
    return ip;
  }
  return make_error("'{}' is not an IP address", text);
}

Result<void> CidrSet::add(std::string_view cidr) {
  auto slash = cidr.find('/');
  auto addr_text = cidr.substr(0, slash);
  auto ip = Ip::parse(addr_text);
  if (!ip) return make_error("CIDR '{}': {}", cidr, ip.error().message);
  const bool v4 = addr_text.find(':') == std::string_view::npos;
  int prefix = v4 ? 32 : 128;
  if (slash != std::string_view::npos) {
    auto p = cidr.substr(slash + 1);
    int n = 0;
    if (p.empty() || p.size() > 3) return make_error("CIDR '{}': bad prefix length", cidr);
    for (char c : p) {
      if (c < '0' || c > '9') return make_error("CIDR '{}': bad prefix length", cidr);
      n = n * 10 + (c - '0');
    }
    if (n > prefix) return make_error("CIDR '{}': prefix length {} is over {}", cidr, n, prefix);
    prefix = n;
  }
  Entry e{*ip, v4 ? 96 + prefix : prefix};
  // Keep the network part only, so matching is a byte compare.
  for (int bit = e.prefix; bit < 128; ++bit) {
    e.net.bytes[static_cast<std::size_t>(bit / 8)] &= static_cast<std::uint8_t>(~(0x80 >> (bit % 8)));
  }
  entries_.push_back(e);
  return {};
}

bool CidrSet::contains(const Ip& ip) const {
  for (const auto& e : entries_) {
    const int full = e.prefix / 8;
    if (std::memcmp(ip.bytes.data(), e.net.bytes.data(), static_cast<std::size_t>(full)) != 0) continue;
    const int rest = e.prefix % 8;
    if (rest == 0) return true;
    const auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
    const auto at = static_cast<std::size_t>(full);
    if ((ip.bytes[at] & mask) == e.net.bytes[at]) return true;
  }
  return false;
}

bool CidrSet::contains(std::string_view ip_text) const {
  auto ip = Ip::parse(ip_text);
  return ip && contains(*ip);
}

}  // namespace porthole::policy
