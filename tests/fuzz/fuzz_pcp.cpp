// Fuzz target: the PCP reply decoder and MAP reply matcher (src/router/pcp_codec.cpp).
#include <cstddef>
#include <cstdint>
#include <span>

#include "router/pcp_codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace porthole::router::pcp;
  auto r = decode_response(std::span<const std::uint8_t>(data, size));
  if (r) {
    MapRequest req;
    if (r->map) {
      req.nonce = r->map->nonce;
      req.protocol = r->map->protocol;
      req.internal_port = r->map->internal_port;
      (void)format_ip(r->map->external_ip);
    }
    req.lifetime = size % 2 ? 0 : 3600;
    (void)match_map_reply(*r, req);
    (void)result_text(r->result);
  }
  return 0;
}
