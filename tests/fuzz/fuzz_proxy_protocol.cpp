// Fuzz target: the PROXY protocol codec (src/proto/proxy_protocol*.cpp), fed the way the relay's
// sniffer feeds it: the bytes arrive in small pieces (sizes taken from the first input byte)
// and parse() sees everything received so far. Checks, besides memory safety:
//  - a decision never changes with more bytes (the incremental result equals the whole one);
//  - a header that parsed re-encodes to bytes that parse to the same addresses.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "proto/proxy_protocol.hpp"

namespace pp = porthole::proto::pp;

namespace {
// The same endpoint, allowing the one rewrite the encoder may do: an IPv4-mapped IPv6 address
// (::ffff:a.b.c.d) written as plain IPv4 when both ends are IPv4 (and back).
bool same_endpoint(const pp::Address& a, const pp::Address& b) {
  if (pp::format_address(a) == pp::format_address(b)) return true;
  auto mapped = [](const pp::Address& v6, const pp::Address& v4) {
    static constexpr std::uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return v6.family == pp::Family::inet6 && v4.family == pp::Family::inet && v6.port == v4.port &&
           std::equal(prefix, prefix + 12, v6.ip.begin()) && std::equal(v4.ip.begin(), v4.ip.begin() + 4, v6.ip.begin() + 12);
  };
  return mapped(a, b) || mapped(b, a);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t seed = data[0];
  std::span<const std::uint8_t> in(data + 1, size - 1);
  const auto whole = pp::parse(in);
  std::size_t have = 0;
  std::uint32_t rng = seed * 2654435761u + 1;
  pp::ParseResult inc;
  while (have < in.size()) {
    rng = rng * 1103515245u + 12345u;
    have = std::min(in.size(), have + 1 + (rng >> 16) % 16);
    inc = pp::parse(in.first(have));
    if (inc.status != pp::Status::need_more) break;
  }
  if (have == in.size() || inc.status != pp::Status::need_more) {
    if (in.empty()) inc = whole;
    if (inc.status != whole.status || inc.reason != whole.reason) __builtin_trap();
    if (inc.status == pp::Status::done && inc.consumed != whole.consumed) __builtin_trap();
  }
  if (whole.status == pp::Status::done) {
    if (whole.consumed == 0 || whole.consumed > in.size()) __builtin_trap();
    (void)pp::format_address(whole.header.source);
    (void)pp::format_address(whole.header.destination);
    auto h = whole.header;
    std::erase_if(h.tlvs, [](const pp::Tlv& t) { return t.type == pp::kTlvCrc32c; });
    for (int version : {1, 2}) {
      h.version = version;
      const auto out = pp::encode(h);
      const auto again = pp::parse(out);
      if (again.status != pp::Status::done || again.consumed != out.size()) __builtin_trap();
      if (version == 2 && whole.header.has_addresses() && whole.header.family != pp::Family::unix_socket &&
          (!same_endpoint(again.header.source, h.source) || !same_endpoint(again.header.destination, h.destination)))
        __builtin_trap();
    }
  }
  return 0;
}
