// Fuzz target: the HTTP proxy head (src/proto/http_proxy.cpp: CONNECT and absolute-form on top
// of http1::parse_request), fed in small pieces as `porthole socks` receives them. Checks,
// besides memory safety: a decision never changes with more bytes; a complete request has a
// host and a port, an absolute-form one a head that parses again as an origin-form request to
// the same host; Basic checks never crash.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "proto/http_proxy.hpp"

namespace hp = porthole::proto::http_proxy;
namespace http1 = porthole::proto::http1;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::uint32_t rng = data[0] * 2654435761u + 1;
  std::span<const std::uint8_t> in(data + 1, size - 1);
  const auto whole = hp::parse(in);
  std::size_t have = 0;
  hp::Parsed inc;
  while (have < in.size()) {
    rng = rng * 1103515245u + 12345u;
    have = std::min(in.size(), have + 1 + (rng >> 16) % 32);
    inc = hp::parse(in.first(have));
    if (inc.status != http1::ParseStatus::incomplete) break;
  }
  if (inc.status != http1::ParseStatus::incomplete && !in.empty()) {
    if (inc.status != whole.status || inc.error != whole.error || inc.head_size != whole.head_size) __builtin_trap();
  }
  if (whole.status != http1::ParseStatus::complete) return 0;
  const auto& r = whole.request;
  if (r.host.empty() || r.port == 0 || whole.head_size == 0 || whole.head_size > in.size()) __builtin_trap();
  (void)hp::basic_matches(r.proxy_authorization, "user", "pass");
  if (!r.tunnel) {
    std::span<const std::uint8_t> again(reinterpret_cast<const std::uint8_t*>(r.forward_head.data()), r.forward_head.size());
    auto h = http1::parse_request(again);
    if (h.status != http1::ParseStatus::complete || h.head_size != r.forward_head.size()) __builtin_trap();
    if (h.head.target.empty() || h.head.target[0] != '/') __builtin_trap();
  }
  return 0;
}
