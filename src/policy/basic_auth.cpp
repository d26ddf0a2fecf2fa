#include "policy/basic_auth.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <array>
#include <charconv>

#include "core/encoding.hpp"

namespace porthole::policy {

namespace {

bool scrypt(std::string_view password, const std::vector<std::uint8_t>& salt, int log_n, std::uint32_t r,
            std::uint32_t p, std::uint8_t* out, std::size_t out_len) {
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "SCRYPT", nullptr);
  if (kdf == nullptr) return false;
  EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf);
  EVP_KDF_free(kdf);
  if (ctx == nullptr) return false;
  std::uint64_t n = std::uint64_t{1} << log_n;
  std::uint64_t maxmem = 128 * n * r * p + (1u << 20);
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string("pass", const_cast<char*>(password.data()), password.size()),
      OSSL_PARAM_construct_octet_string("salt", const_cast<std::uint8_t*>(salt.data()), salt.size()),
      OSSL_PARAM_construct_uint64("n", &n),
      OSSL_PARAM_construct_uint32("r", &r),
      OSSL_PARAM_construct_uint32("p", &p),
      OSSL_PARAM_construct_uint64("maxmem_bytes", &maxmem),
      OSSL_PARAM_construct_end(),
  };
  const bool ok = EVP_KDF_derive(ctx, out, out_len, params) == 1;
  EVP_KDF_CTX_free(ctx);
  return ok;
}

bool parse_uint(std::string_view s, std::uint32_t& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

// Standard base64 (RFC 4648 §4) as HTTP Basic uses it.
std::string base64_decode(std::string_view in, bool& ok) {
  ok = false;
  if (in.size() % 4 != 0 || in.size() > 8192) return {};
  std::string out(in.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  if (n < 0) return {};
  std::size_t pad = 0;
  if (!in.empty() && in.back() == '=') ++pad;
  if (in.size() > 1 && in[in.size() - 2] == '=') ++pad;
  out.resize(static_cast<std::size_t>(n) - pad);
  ok = true;
  return out;
}

}  // namespace

Result<PasswordHash> PasswordHash::parse(std::string_view text) {
  // $scrypt$ln=15,r=8,p=1$SALT$HASH
  auto bad = [] { return make_error("not a password hash from `porthole policy hash-password` ($scrypt$ln=..,r=..,p=..$SALT$HASH)"); };
  if (!text.starts_with("$scrypt$")) return bad();
  text.remove_prefix(8);
  const auto d1 = text.find('$');
  if (d1 == std::string_view::npos) return bad();
  const auto params = text.substr(0, d1);
  const auto rest = text.substr(d1 + 1);
  const auto d2 = rest.find('$');
  if (d2 == std::string_view::npos) return bad();
  PasswordHash h;
  std::uint32_t ln = 0;
  int seen = 0;
  std::string_view ps = params;
  while (!ps.empty()) {
    const auto comma = ps.find(',');
    const auto item = ps.substr(0, comma);
    ps = comma == std::string_view::npos ? std::string_view{} : ps.substr(comma + 1);
    const auto eq = item.find('=');
    if (eq == std::string_view::npos) return bad();
    const auto k = item.substr(0, eq);
    std::uint32_t v = 0;
    if (!parse_uint(item.substr(eq + 1), v)) return bad();
    if (k == "ln") {
      ln = v;
      seen |= 1;
    } else if (k == "r") {
      h.r = v;
      seen |= 2;
    } else if (k == "p") {
      h.p = v;
      seen |= 4;
    } else {
      return bad();
    }
  }
  if (seen != 7) return bad();
  if (ln < 10 || ln > 20 || h.r < 1 || h.r > 32 || h.p < 1 || h.p > 16) {
    return make_error("scrypt parameters out of range (ln 10..20, r 1..32, p 1..16)");
  }
  h.log_n = static_cast<int>(ln);
  auto salt = encoding::base64url_decode(rest.substr(0, d2));
  auto hash = encoding::base64url_decode(rest.substr(d2 + 1));
  if (!salt || !hash || salt->size() < 8 || hash->size() < 16 || hash->size() > 64) return bad();
  h.salt = std::move(*salt);
  h.hash = std::move(*hash);
  return h;
}

std::string PasswordHash::format() const {
  return fmt::format("$scrypt$ln={},r={},p={}${}${}", log_n, r, p, encoding::base64url_encode(salt),
                     encoding::base64url_encode(hash));
}

Result<std::string> hash_password(std::string_view password, int log_n) {
  PasswordHash h;
  h.log_n = log_n;
  h.salt.resize(16);
  h.hash.resize(32);
  if (RAND_bytes(h.salt.data(), static_cast<int>(h.salt.size())) != 1) return make_error("no random bytes");
  if (!scrypt(password, h.salt, h.log_n, h.r, h.p, h.hash.data(), h.hash.size())) return make_error("scrypt failed");
  return h.format();
}

bool verify_password(const PasswordHash& h, std::string_view password) {
  std::vector<std::uint8_t> out(h.hash.size());
  if (!scrypt(password, h.salt, h.log_n, h.r, h.p, out.data(), out.size())) return false;
  return CRYPTO_memcmp(out.data(), h.hash.data(), out.size()) == 0;
}

BasicAuth::BasicAuth(std::vector<User> users, std::string realm) : users_(std::move(users)), realm_(std::move(realm)) {}

std::string BasicAuth::check(std::string_view authorization) {
  // "Basic <base64(user:password)>", scheme case-insensitive.
  if (authorization.size() < 6) return {};
  const auto scheme = authorization.substr(0, 6);
  if (scheme != "Basic " && scheme != "basic " && scheme != "BASIC ") return {};
  auto b64 = authorization.substr(6);
  while (!b64.empty() && b64.front() == ' ') b64.remove_prefix(1);
  bool ok = false;
  const auto creds = base64_decode(b64, ok);
  if (!ok) return {};
  const auto colon = creds.find(':');
  if (colon == std::string::npos) return {};
  const std::string_view user(creds.data(), colon);
  const std::string_view pass(creds.data() + colon + 1, creds.size() - colon - 1);
  const User* found = nullptr;
  for (const auto& u : users_) {
    if (u.name.size() == user.size() && CRYPTO_memcmp(u.name.data(), user.data(), user.size()) == 0) found = &u;
  }
  if (found == nullptr) return {};
  const auto digest = credential_digest(creds);
  if (auto name = ok_.find(digest)) return *name;
  if (!verify_password(found->hash, pass)) return {};
  ok_.put(digest, found->name);
  return found->name;
}

}  // namespace porthole::policy
