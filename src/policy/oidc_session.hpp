// Building blocks of the (not yet built) `oidc` action, pure and tested on their own:
// the session cookie — sealed with AES-256-GCM (encrypted and authenticated), bound to the host
// it was issued for (the host is the AEAD's associated data), with an expiry inside — and the
// PKCE S256 challenge (RFC 7636) and random state/nonce/verifier values of the login redirect.
// OpenSSL 3 EVP; no I/O.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace porthole::policy {

constexpr std::size_t kMaxSessionCookie = 4096;  // what browsers keep per cookie

struct OidcSession {
  std::string subject, email;
  std::int64_t expires = 0;  // unix seconds
};

class CookieSealer {
 public:
  explicit CookieSealer(const std::array<std::uint8_t, 32>& key) : key_(key) {}
  // base64url(nonce(12) || ciphertext || tag(16)); "" when the session is too large.
  std::string seal(const OidcSession& s, std::string_view host) const;
  // The session, when the cookie was sealed with this key for `host` and has not expired.
  std::optional<OidcSession> open(std::string_view cookie, std::string_view host, std::int64_t unix_seconds) const;
  // Any text sealed the same way, `aad` bound (the oidc login cookie: "login " + host, so a
  // login cookie never opens as a session and the other way round); nullopt on any change.
  std::string seal_text(std::string_view plain, std::string_view aad) const;
  std::optional<std::string> open_text(std::string_view cookie, std::string_view aad) const;

 private:
  std::array<std::uint8_t, 32> key_;
};

// RFC 7636 §4.2: BASE64URL(SHA256(verifier)).
std::string pkce_s256(std::string_view verifier);
// `bytes` random bytes as base64url (state, nonce, the PKCE verifier: 32 bytes → 43 characters).
std::string random_token(std::size_t bytes = 32);

}  // namespace porthole::policy
