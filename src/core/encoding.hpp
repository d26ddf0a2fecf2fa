// Byte/text encodings: hex, base64url (RFC 4648 §5, no padding) and SHA-256 fingerprint text.
// Pure functions; no OpenSSL here (core stays dependency-free).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace porthole::encoding {

// Lowercase hex, two characters per byte.
std::string hex_encode(std::span<const std::uint8_t> bytes);
// Accepts upper and lower case; fails on odd length or a non-hex character.
Result<std::vector<std::uint8_t>> hex_decode(std::string_view text);

// base64url without padding ("-" and "_" instead of "+" and "/").
std::string base64url_encode(std::span<const std::uint8_t> bytes);
// Accepts input with or without "=" padding; fails on any other character.
Result<std::vector<std::uint8_t>> base64url_decode(std::string_view text);

// Normalises a SHA-256 fingerprint as users write it: optional "SHA256:" prefix (any case),
// hex with or without ':' separators, any case. Returns 64 lowercase hex characters.
Result<std::string> normalize_sha256_fingerprint(std::string_view text);

// "SHA256:<hex>" — how fingerprints are shown to users.
std::string display_fingerprint(std::string_view hex);

}  // namespace porthole::encoding
