#include "proto/auth.hpp"

#include <stdexcept>
#include <vector>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "core/encoding.hpp"

namespace porthole::proto {
namespace {

using namespace std::string_view_literals;

constexpr auto kIdLabel = "porthole-token-id\0"sv;    // 18 bytes, NUL included
constexpr auto kKeyLabel = "porthole-token-key\0"sv;  // 19 bytes, NUL included
constexpr auto kProofLabel = "porthole-auth-v1"sv;

Key sha256_labeled(std::string_view label, std::string_view data) {
  Key out{};
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  unsigned len = 0;
  bool ok = ctx != nullptr && EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1 &&
            EVP_DigestUpdate(ctx, label.data(), label.size()) == 1 &&
            EVP_DigestUpdate(ctx, data.data(), data.size()) == 1 &&
            EVP_DigestFinal_ex(ctx, out.data(), &len) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok || len != out.size()) throw std::runtime_error("SHA-256 failed");
  return out;
}

}  // namespace

std::string token_id(std::string_view token) {
  Key h = sha256_labeled(kIdLabel, token);
  return encoding::hex_encode(std::span<const std::uint8_t>(h.data(), kTokenIdLength / 2));
}

Key token_key(std::string_view token) {
  return sha256_labeled(kKeyLabel, token);
}

Key auth_proof(const Key& key, std::span<const std::uint8_t> channel_binding) {
  std::vector<std::uint8_t> msg(kProofLabel.begin(), kProofLabel.end());
  msg.insert(msg.end(), channel_binding.begin(), channel_binding.end());
  Key out{};
  unsigned len = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), msg.data(), msg.size(), out.data(),
           &len) == nullptr ||
      len != out.size()) {
    throw std::runtime_error("HMAC-SHA256 failed");
  }
  return out;
}

bool verify_proof(const Key& key, std::span<const std::uint8_t> channel_binding,
                  std::span<const std::uint8_t> proof) {
  if (proof.size() != kProofLength) return false;
  Key expected = auth_proof(key, channel_binding);
  return CRYPTO_memcmp(expected.data(), proof.data(), expected.size()) == 0;
}

std::string generate_token() {
  std::array<std::uint8_t, 32> raw{};
  if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) {
    throw std::runtime_error("the system random number generator failed");
  }
  std::string token = std::string(kTokenPrefix) + encoding::base64url_encode(raw);
  OPENSSL_cleanse(raw.data(), raw.size());
  return token;
}

bool is_token_id(std::string_view id) {
  if (id.size() != kTokenIdLength) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace porthole::proto
