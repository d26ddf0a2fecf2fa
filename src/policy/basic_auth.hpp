// HTTP Basic authentication against users whose passwords are stored hashed with scrypt
// (OpenSSL 3's EVP_KDF "SCRYPT"): "$scrypt$ln=15,r=8,p=1$SALT$HASH" (base64url, no padding),
// as `porthole policy hash-password` prints. A verification costs tens of milliseconds on
// purpose; a successful one is remembered (policy/credential_cache.hpp: a keyed SHA-256 of user
// and password, bounded), so a logged-in visitor pays it once. Every secret comparison is CRYPTO_memcmp.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "policy/credential_cache.hpp"

namespace porthole::policy {

struct PasswordHash {
  int log_n = 15;
  std::uint32_t r = 8, p = 1;
  std::vector<std::uint8_t> salt, hash;
  static Result<PasswordHash> parse(std::string_view text);
  std::string format() const;
};

// Hashes `password` with a fresh random salt (ln=15, r=8, p=1: 32 MiB, ~0.1 s).
Result<std::string> hash_password(std::string_view password, int log_n = 15);
// Constant-time check of `password` against `h`.
bool verify_password(const PasswordHash& h, std::string_view password);

class BasicAuth {
 public:
  struct User {
    std::string name;
    PasswordHash hash;
  };
  BasicAuth(std::vector<User> users, std::string realm);
  // Checks an Authorization header value; the user's name when it holds, "" otherwise.
  std::string check(std::string_view authorization);
  const std::string& realm() const { return realm_; }
  std::size_t users() const { return users_.size(); }

 private:
  std::vector<User> users_;
  std::string realm_;
  CredentialCache<std::string> ok_{1024};  // verified user:password pairs → the user's name
};

}  // namespace porthole::policy
