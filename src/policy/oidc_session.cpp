// oidc_session.hpp: AES-256-GCM session cookies, PKCE S256, random tokens.
#include "policy/oidc_session.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <nlohmann/json.hpp>
#include <vector>

#include "core/encoding.hpp"

namespace porthole::policy {

namespace {

constexpr std::size_t kNonce = 12, kTag = 16;

struct CipherCtx {
  EVP_CIPHER_CTX* p = EVP_CIPHER_CTX_new();
  ~CipherCtx() { EVP_CIPHER_CTX_free(p); }
};

const unsigned char* u8(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

}  // namespace

std::string CookieSealer::seal_text(std::string_view plain, std::string_view aad) const {
  if ((plain.size() + kNonce + kTag) * 4 / 3 + 4 > kMaxSessionCookie) return {};
  std::vector<std::uint8_t> out(kNonce + plain.size() + kTag);
  if (RAND_bytes(out.data(), static_cast<int>(kNonce)) != 1) return {};
  CipherCtx ctx;
  int len = 0;
  if (ctx.p == nullptr || EVP_EncryptInit_ex(ctx.p, EVP_aes_256_gcm(), nullptr, key_.data(), out.data()) != 1 ||
      EVP_EncryptUpdate(ctx.p, nullptr, &len, u8(aad), static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(ctx.p, out.data() + kNonce, &len, u8(plain), static_cast<int>(plain.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.p, out.data() + kNonce + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.p, EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTag), out.data() + kNonce + plain.size()) != 1) {
    return {};
  }
  return encoding::base64url_encode(out);
}

std::optional<std::string> CookieSealer::open_text(std::string_view cookie, std::string_view aad) const {
  if (cookie.size() > kMaxSessionCookie || cookie.find('=') != std::string_view::npos) return std::nullopt;
  auto raw = encoding::base64url_decode(cookie);
  if (!raw || raw->size() < kNonce + kTag + 2) return std::nullopt;
  const std::size_t n = raw->size() - kNonce - kTag;
  std::string plain(n, '\0');
  CipherCtx ctx;
  int len = 0;
  auto* data = raw->data();
  if (ctx.p == nullptr || EVP_DecryptInit_ex(ctx.p, EVP_aes_256_gcm(), nullptr, key_.data(), data) != 1 ||
      EVP_DecryptUpdate(ctx.p, nullptr, &len, u8(aad), static_cast<int>(aad.size())) != 1 ||
      EVP_DecryptUpdate(ctx.p, reinterpret_cast<unsigned char*>(plain.data()), &len, data + kNonce, static_cast<int>(n)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.p, EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTag), data + kNonce + n) != 1 ||
      EVP_DecryptFinal_ex(ctx.p, reinterpret_cast<unsigned char*>(plain.data()) + len, &len) != 1) {
    return std::nullopt;  // another key, another host, or a changed byte
  }
  return plain;
}

std::string CookieSealer::seal(const OidcSession& s, std::string_view host) const {
  const std::string plain = nlohmann::json{{"sub", s.subject}, {"email", s.email}, {"exp", s.expires}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
  return seal_text(plain, host);
}

std::optional<OidcSession> CookieSealer::open(std::string_view cookie, std::string_view host,
                                              std::int64_t unix_seconds) const {
  auto plain = open_text(cookie, host);
  if (!plain) return std::nullopt;
  auto j = nlohmann::json::parse(*plain, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  const auto sub = j.find("sub"), email = j.find("email"), exp = j.find("exp");
  if (sub == j.end() || !sub->is_string() || email == j.end() || !email->is_string() || exp == j.end() ||
      !exp->is_number_integer()) {
    return std::nullopt;
  }
  OidcSession s{sub->get<std::string>(), email->get<std::string>(), exp->get<std::int64_t>()};
  if (unix_seconds >= s.expires) return std::nullopt;
  return s;
}

std::string pkce_s256(std::string_view verifier) {
  std::array<std::uint8_t, SHA256_DIGEST_LENGTH> d{};
  SHA256(u8(verifier), verifier.size(), d.data());
  return encoding::base64url_encode(d);
}

std::string random_token(std::size_t bytes) {
  std::vector<std::uint8_t> b(bytes);
  if (bytes == 0 || RAND_bytes(b.data(), static_cast<int>(bytes)) != 1) return {};
  return encoding::base64url_encode(b);
}

}  // namespace porthole::policy
