#include "policy/credential_cache.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <memory>

namespace porthole::policy {

namespace {

struct Keyed {
  std::array<std::uint8_t, 32> key{};
  EVP_MD* md = nullptr;
  Keyed() {
    RAND_bytes(key.data(), static_cast<int>(key.size()));
    md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  }
  ~Keyed() { EVP_MD_free(md); }
  Keyed(const Keyed&) = delete;
  Keyed& operator=(const Keyed&) = delete;
};

const Keyed& keyed() {
  static const Keyed k;
  return k;
}

}  // namespace

CredentialDigest credential_digest(std::string_view credential) {
  const auto& k = keyed();
  thread_local const std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  CredentialDigest out{};
  unsigned int len = 0;
  // On a failure (no memory) a random digest, which matches no cached entry.
  if (ctx == nullptr || k.md == nullptr || EVP_DigestInit_ex2(ctx.get(), k.md, nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), k.key.data(), k.key.size()) != 1 ||
      EVP_DigestUpdate(ctx.get(), credential.data(), credential.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), out.data(), &len) != 1) {
    RAND_bytes(out.data(), static_cast<int>(out.size()));  // never matches a cached entry
  }
  return out;
}

}  // namespace porthole::policy
