// Fuzzes the sock_diag and RTM_NEWADDR reply parsers and the netlink walkers (src/diag/*_codec.cpp).
#include <cstddef>
#include <cstdint>
#include <span>

#include "diag/ifaddr_codec.hpp"
#include "diag/netlink_codec.hpp"
#include "diag/sockdiag_codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> buf(data, size);
  for (auto proto : {porthole::diag::Proto::tcp, porthole::diag::Proto::udp}) {
    auto r = porthole::diag::parse_sockdiag_reply(buf, proto);
    if (r) {
      for (const auto& e : r->entries) (void)porthole::diag::state_name(e.state);
    }
  }
  (void)porthole::diag::parse_getaddr_reply(buf);
  (void)porthole::diag::netlink::for_each_attr(buf, [](const porthole::diag::netlink::Attr&) {});
  return 0;
}
