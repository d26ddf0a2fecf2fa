// Where an exit may connect (`porthole exit NAME --allow-dest ...`): the allow-list, every IP
// spelling normalised to one canonical address, and the check of every resolved address of a
// destination. Pure: no sockets, no DNS; the exit resolves, hands the addresses here and then
// connects to exactly the addresses that passed (docs/socks.md, docs/security.md).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "policy/cidr.hpp"

namespace porthole::policy {

// One destination address, canonical: IPv4 as IPv4-mapped bytes (also for IPv4-mapped and
// IPv4-compatible IPv6 spellings), IPv6 with its zone (scope) kept apart.
struct DestAddr {
  Ip ip;
  std::string zone;  // "eth0" of fe80::1%eth0 ("" none)
  bool v4() const;
  std::string text() const;  // "127.0.0.1", "2001:db8::1", "fe80::1%eth0"
};

// Any spelling of an address: what inet_aton takes for IPv4 (1 to 4 parts, each decimal,
// octal with a leading 0 or hex with 0x: 127.1, 0x7f.1, 2130706433, 017700000001), IPv6
// (inet_pton) with optional brackets and %zone; ::ffff:a.b.c.d and ::a.b.c.d become a.b.c.d.
// nullopt when the text is not an address (it is then a host name to resolve).
std::optional<DestAddr> parse_dest_ip(std::string_view text);

// Why a destination was refused; `code` is the label of porthole_exit_refused_total.
struct DestVerdict {
  bool allowed = false;
  std::string code;    // "not_allowed", "loopback", "link_local", "unspecified", "multicast",
                       // "broadcast", "reserved", "own_address", "bad_port", "bad_name"
  std::string reason;  // for people: "127.0.0.1 is a loopback address (list it to allow it)"
};

class DestPolicy {
 public:
  // Entries: CIDR or address ("10.0.0.0/8", "192.168.1.5", "2001:db8::/32", "[fe80::/10]"),
  // or a host name or "*.suffix" glob; each optionally followed by ":PORTS" (a port, a range
  // LO-HI, or a comma list of both: ":22", ":8000-8100", ":80,443,8000-8100"; IPv6 with ports
  // needs brackets: "[2001:db8::/32]:443"). No ports: every port 1-65535.
  static Result<DestPolicy> parse(std::span<const std::string> specs);

  // The exit's own addresses (interfaces, their broadcast addresses): refused unless an entry
  // lists that exact address.
  void set_own_addresses(std::vector<Ip> own) { own_ = std::move(own); }
  bool empty() const { return entries_.empty(); }
  std::string describe() const;  // the entries, for logs

  // A destination the client asked for by name (`host` already normalised) resolving to
  // `addrs`, or by address (`host` empty, one address). Allowed only when every address
  // passes: an address passes when a CIDR entry covers it at `port`, or when `host` matches a
  // name entry at `port` — and, either way, a special address (loopback, link-local,
  // unspecified, multicast, broadcast, reserved, the exit's own) is covered by an entry at
  // least as narrow as its special range (0.0.0.0/0 does not list 127.0.0.1; 127.0.0.0/8
  // does; an own address needs its exact /32 or /128). No addresses: refused.
  DestVerdict check(std::string_view host, std::span<const DestAddr> addrs, std::uint16_t port) const;

 private:
  struct PortRange {
    std::uint16_t lo, hi;
  };
  struct Entry {
    bool is_name = false;
    std::string name;          // normalised, maybe "*.suffix"
    Ip net;                    // CIDR network (masked)
    int prefix = 128;          // in IPv6 bits (IPv4 /n is 96+n)
    std::vector<PortRange> ports;  // empty: all
    std::string spec;
    bool covers_port(std::uint16_t port) const;
    bool covers(const Ip& ip) const;
  };
  DestVerdict check_one(bool name_ok, const DestAddr& a, std::uint16_t port) const;

  std::vector<Entry> entries_;
  std::vector<Ip> own_;
};

// Splits "HOST:PORT" / "[V6]:PORT" / "V6-with-zone:PORT" as a SOCKS or CONNECT target: the
// host (brackets removed) and port (1-65535). Errors are short phrases.
struct HostAndPort {
  std::string host;
  std::uint16_t port = 0;
};
Result<HostAndPort> split_dest(std::string_view target);
std::string join_dest(std::string_view host, std::uint16_t port);  // brackets IPv6

}  // namespace porthole::policy
