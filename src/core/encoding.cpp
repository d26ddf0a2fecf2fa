#include "core/encoding.hpp"

#include <array>

namespace porthole::encoding {
namespace {

constexpr std::string_view kHex = "0123456789abcdef";
constexpr std::string_view kB64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

constexpr std::array<int, 256> make_b64_table() {
  std::array<int, 256> t{};
  for (auto& v : t) v = -1;
  for (std::size_t i = 0; i < kB64.size(); ++i) t[static_cast<unsigned char>(kB64[i])] = static_cast<int>(i);
  return t;
}
constexpr auto kB64Table = make_b64_table();

}  // namespace

std::string hex_encode(std::span<const std::uint8_t> bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (auto b : bytes) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0x0f]);
  }
  return out;
}

Result<std::vector<std::uint8_t>> hex_decode(std::string_view text) {
  if (text.size() % 2 != 0) return make_error("invalid hex: odd length {}", text.size());
  std::vector<std::uint8_t> out;
  out.reserve(text.size() / 2);
  for (std::size_t i = 0; i < text.size(); i += 2) {
    int hi = hex_value(text[i]);
    int lo = hex_value(text[i + 1]);
    if (hi < 0 || lo < 0) return make_error("invalid hex: bad character at offset {}", hi < 0 ? i : i + 1);
    out.push_back(static_cast<std::uint8_t>(hi << 4 | lo));
  }
  return out;
}

std::string base64url_encode(std::span<const std::uint8_t> bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    std::uint32_t v = static_cast<std::uint32_t>(bytes[i]) << 16 |
                      static_cast<std::uint32_t>(bytes[i + 1]) << 8 | bytes[i + 2];
    for (int s = 18; s >= 0; s -= 6) out.push_back(kB64[(v >> s) & 0x3f]);
  }
  std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    std::uint32_t v = static_cast<std::uint32_t>(bytes[i]) << 16;
    if (rest == 2) v |= static_cast<std::uint32_t>(bytes[i + 1]) << 8;
    out.push_back(kB64[(v >> 18) & 0x3f]);
    out.push_back(kB64[(v >> 12) & 0x3f]);
    if (rest == 2) out.push_back(kB64[(v >> 6) & 0x3f]);
  }
  return out;
}

Result<std::vector<std::uint8_t>> base64url_decode(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  if (text.size() % 4 == 1) return make_error("invalid base64url: bad length {}", text.size());
  std::vector<std::uint8_t> out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    int v = kB64Table[static_cast<unsigned char>(text[i])];
    if (v < 0) return make_error("invalid base64url: bad character at offset {}", i);
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>((acc >> bits) & 0xff));
    }
  }
  // Leftover bits must be zero, so every byte string has exactly one encoding.
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
    return make_error("invalid base64url: non-canonical ending");
  return out;
}

Result<std::string> normalize_sha256_fingerprint(std::string_view text) {
  std::string_view body = text;
  constexpr std::string_view kPrefix = "sha256:";
  if (body.size() >= kPrefix.size()) {
    bool has_prefix = true;
    for (std::size_t i = 0; i < kPrefix.size(); ++i) {
      char c = body[i];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      has_prefix = has_prefix && c == kPrefix[i];
    }
    if (has_prefix) body.remove_prefix(kPrefix.size());
  }
  std::string out;
  out.reserve(64);
  for (char c : body) {
    if (c == ':') continue;
    int v = hex_value(c);
    if (v < 0 || out.size() >= 64) {
      return make_error(
          "invalid SHA-256 fingerprint '{}' (expected 64 hex digits, colons and a SHA256: prefix allowed)",
          text);
    }
    out.push_back(kHex[static_cast<std::size_t>(v)]);
  }
  if (out.size() != 64) {
    return make_error("invalid SHA-256 fingerprint '{}' (expected 64 hex digits, got {})", text, out.size());
  }
  return out;
}

std::string display_fingerprint(std::string_view hex) {
  return "SHA256:" + std::string(hex);
}

}  // namespace porthole::encoding
