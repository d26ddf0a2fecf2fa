#include "diag/ifaddr_codec.hpp"

#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <array>
#include <cstring>
#include <optional>

#include "diag/netlink_codec.hpp"

namespace porthole::diag {

bool IfAddr::permanent() const {
  return (flags & IFA_F_PERMANENT) != 0;
}

std::vector<std::uint8_t> build_getaddr_request(std::uint32_t seq) {
  ifaddrmsg ifa{};
  ifa.ifa_family = AF_UNSPEC;
  return netlink::dump_request(RTM_GETADDR, seq, &ifa, sizeof ifa);
}

namespace {

std::optional<IfAddr> parse_addr(netlink::Bytes p) {
  if (p.size() < sizeof(ifaddrmsg)) return std::nullopt;
  ifaddrmsg m{};
  std::memcpy(&m, p.data(), sizeof m);
  if (m.ifa_family != AF_INET && m.ifa_family != AF_INET6) return std::nullopt;
  IfAddr a;
  a.family = m.ifa_family == AF_INET ? 4 : 6;
  a.ifindex = m.ifa_index;
  a.prefix_length = m.ifa_prefixlen;
  a.flags = m.ifa_flags;
  std::size_t want = m.ifa_family == AF_INET ? 4 : 16;
  std::string local;
  std::string address;
  auto walked = netlink::for_each_attr(p.subspan(sizeof m), [&](const netlink::Attr& at) {
    if ((at.type == IFA_LOCAL || at.type == IFA_ADDRESS) && at.value.size() == want) {
      std::array<char, INET6_ADDRSTRLEN> text{};
      if (inet_ntop(m.ifa_family, at.value.data(), text.data(), text.size()) != nullptr) {
        (at.type == IFA_LOCAL ? local : address) = text.data();
      }
    } else if (at.type == IFA_FLAGS) {
      (void)netlink::read_u32(at.value, 0, a.flags);
    }
  });
  if (!walked) return std::nullopt;
  a.address = local.empty() ? address : local;  // IFA_LOCAL is ours on point-to-point links
  if (a.address.empty()) return std::nullopt;
  return a;
}

}  // namespace

Result<AddrChunk> parse_getaddr_reply(std::span<const std::uint8_t> buf) {
  AddrChunk out;
  auto done = netlink::for_each_dump_message(buf, "rtnetlink: address dump", [&](const netlink::Message& m) {
    if (m.type != RTM_NEWADDR) return;
    if (auto a = parse_addr(m.payload)) out.addrs.push_back(std::move(*a));
  });
  if (!done) return done.error();
  out.done = *done;
  return out;
}

}  // namespace porthole::diag
