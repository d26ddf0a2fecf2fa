// Fuzzes the text decoders of core/encoding (hex, base64url, fingerprints) and the auth proof
// check: no crash, and every decoded value re-encodes to its canonical input.
#include <algorithm>
#include <cstdint>
#include <span>
#include <string_view>

#include "core/encoding.hpp"
#include "proto/auth.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace porthole;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto h = encoding::hex_decode(text); h && encoding::hex_encode(*h).size() != text.size())
    __builtin_trap();
  if (auto b = encoding::base64url_decode(text)) {
    std::string_view unpadded = text.substr(0, text.find_last_not_of('=') + 1);
    if (encoding::base64url_encode(*b) != unpadded) __builtin_trap();
  }
  if (auto f = encoding::normalize_sha256_fingerprint(text); f && f->size() != 64) __builtin_trap();
  // verify_proof agrees with recomputing the proof, for any proof and binding.
  if (size >= 32) {
    auto key = proto::token_key("ph_fuzz");
    std::span<const std::uint8_t> bytes(data, size);
    auto binding = bytes.subspan(32);
    auto expected = proto::auth_proof(key, binding);
    bool same = std::equal(expected.begin(), expected.end(), bytes.begin());
    if (proto::verify_proof(key, binding, bytes.first(32)) != same) __builtin_trap();
  }
  return 0;
}
