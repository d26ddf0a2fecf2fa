// JWT/JWS/JWK (RFC 7515, 7517, 7518, 7519, 8037) with OpenSSL 3: see jwt.hpp.
#include "policy/jwt.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>

#include <algorithm>
#include <cctype>
#include <cmath>

#include "core/encoding.hpp"

namespace porthole::policy {

namespace {

using json = nlohmann::json;

// Strict base64url: the URL alphabet, no padding, canonical trailing bits (encoding.cpp).
bool b64url(std::string_view s, std::vector<std::uint8_t>& out) {
  if (s.find('=') != std::string_view::npos) return false;
  auto r = encoding::base64url_decode(s);
  if (!r) return false;
  out = std::move(*r);
  return true;
}

bool parse_object(std::string_view text, json& out) {
  out = json::parse(text.begin(), text.end(), nullptr, false);
  return !out.is_discarded() && out.is_object();
}

const std::string* str_member(const json& o, const char* name) {
  const auto it = o.find(name);
  if (it == o.end() || !it->is_string()) return nullptr;
  return it->get_ptr<const std::string*>();
}

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
std::shared_ptr<EVP_PKEY> own(EVP_PKEY* p) { return std::shared_ptr<EVP_PKEY>(p, PkeyFree{}); }

bool check_public(EVP_PKEY* p) {
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_pkey(nullptr, p, nullptr);
  if (ctx == nullptr) return false;
  const bool ok = EVP_PKEY_public_check(ctx) == 1;
  EVP_PKEY_CTX_free(ctx);
  return ok;
}

EVP_PKEY* from_params(const char* type, OSSL_PARAM_BLD* bld) {
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY* pkey = nullptr;
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
  if (params != nullptr && ctx != nullptr && EVP_PKEY_fromdata_init(ctx) == 1) {
    if (EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) pkey = nullptr;
  }
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  return pkey;
}

Result<std::shared_ptr<EVP_PKEY>> rsa_key(const json& k) {
  const auto* n = str_member(k, "n");
  const auto* e = str_member(k, "e");
  std::vector<std::uint8_t> nb, eb;
  if (n == nullptr || e == nullptr || !b64url(*n, nb) || !b64url(*e, eb) || nb.empty() || eb.empty()) {
    return make_error("RSA key: n and e must be base64url");
  }
  if (nb.size() > 1024 || eb.size() > 8) return make_error("RSA key: n or e too large");
  BIGNUM* bn_n = BN_bin2bn(nb.data(), static_cast<int>(nb.size()), nullptr);
  BIGNUM* bn_e = BN_bin2bn(eb.data(), static_cast<int>(eb.size()), nullptr);
  if (bn_n == nullptr || bn_e == nullptr || BN_num_bits(bn_n) < 2048) {
    BN_free(bn_n);
    BN_free(bn_e);
    return make_error("RSA key: the modulus must have at least 2048 bits");
  }
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  EVP_PKEY* p = nullptr;
  if (bld != nullptr && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) == 1 &&
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) == 1) {
    p = from_params("RSA", bld);
  }
  OSSL_PARAM_BLD_free(bld);
  BN_free(bn_n);
  BN_free(bn_e);
  if (p == nullptr) return make_error("RSA key: OpenSSL refused it");
  return own(p);
}

Result<std::shared_ptr<EVP_PKEY>> ec_key(const json& k) {
  const auto* crv = str_member(k, "crv");
  if (crv == nullptr || *crv != "P-256") return make_error("EC key: only crv P-256 is supported");
  const auto* x = str_member(k, "x");
  const auto* y = str_member(k, "y");
  std::vector<std::uint8_t> xb, yb;
  if (x == nullptr || y == nullptr || !b64url(*x, xb) || !b64url(*y, yb) || xb.size() != 32 || yb.size() != 32) {
    return make_error("EC key: x and y must be 32 bytes of base64url");
  }
  std::vector<std::uint8_t> point{0x04};
  point.insert(point.end(), xb.begin(), xb.end());
  point.insert(point.end(), yb.begin(), yb.end());
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  EVP_PKEY* p = nullptr;
  if (bld != nullptr && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) == 1 &&
      OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) == 1) {
    p = from_params("EC", bld);
  }
  OSSL_PARAM_BLD_free(bld);
  if (p == nullptr) return make_error("EC key: not a point on P-256");
  auto owned = own(p);
  if (!check_public(p)) return make_error("EC key: not a point on P-256");
  return owned;
}

Result<std::shared_ptr<EVP_PKEY>> okp_key(const json& k) {
  const auto* crv = str_member(k, "crv");
  if (crv == nullptr || *crv != "Ed25519") return make_error("OKP key: only crv Ed25519 is supported");
  const auto* x = str_member(k, "x");
  std::vector<std::uint8_t> xb;
  if (x == nullptr || !b64url(*x, xb) || xb.size() != 32) return make_error("OKP key: x must be 32 bytes of base64url");
  EVP_PKEY* p = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, xb.data(), xb.size());
  if (p == nullptr) return make_error("OKP key: OpenSSL refused it");
  return own(p);
}

// One JWK; `skip` set (and no error) for keys we do not use.
Result<Jwk> read_jwk(const json& k, bool& skip) {
  skip = false;
  if (!k.is_object()) return make_error("a key is not a JSON object");
  const auto* kty = str_member(k, "kty");
  if (kty == nullptr) return make_error("a key has no kty");
  Jwk out;
  if (const auto* s = str_member(k, "kid")) out.kid = *s;
  if (const auto* s = str_member(k, "alg")) out.alg = *s;
  if (const auto* s = str_member(k, "use")) out.use = *s;
  if (out.kid.size() > 256) return make_error("a key's kid is longer than 256 bytes");
  if (!out.use.empty() && out.use != "sig") {
    skip = true;  // an encryption key
    return out;
  }
  if (const auto it = k.find("key_ops"); it != k.end()) {
    if (!it->is_array()) return make_error("key_ops is not a list");
    bool verify = false;
    for (const auto& op : *it) verify = verify || (op.is_string() && op.get_ref<const std::string&>() == "verify");
    if (!verify) {
      skip = true;
      return out;
    }
  }
  Result<std::shared_ptr<EVP_PKEY>> key = make_error("");
  if (*kty == "RSA") {
    out.type = Jwk::Type::rsa;
    if (k.contains("d")) return make_error("a JWKS must not hold private keys (RSA key {} has d)", out.kid);
    key = rsa_key(k);
  } else if (*kty == "EC") {
    out.type = Jwk::Type::ec;
    if (k.contains("d")) return make_error("a JWKS must not hold private keys (EC key {} has d)", out.kid);
    const auto* crv = str_member(k, "crv");
    if (crv != nullptr && *crv != "P-256") {
      skip = true;
      return out;
    }
    key = ec_key(k);
  } else if (*kty == "OKP") {
    out.type = Jwk::Type::okp;
    if (k.contains("d")) return make_error("a JWKS must not hold private keys (OKP key {} has d)", out.kid);
    const auto* crv = str_member(k, "crv");
    if (crv != nullptr && *crv != "Ed25519") {
      skip = true;
      return out;
    }
    key = okp_key(k);
  } else if (*kty == "oct") {
    out.type = Jwk::Type::oct;
    const auto* kk = str_member(k, "k");
    if (kk == nullptr || !b64url(*kk, out.secret) || out.secret.empty()) return make_error("oct key: k must be base64url");
    if (out.secret.size() < 32) return make_error("oct key: an HS256 secret needs at least 32 bytes");
    return out;
  } else {
    skip = true;
    return out;
  }
  if (!key) return key.error();
  out.key = std::move(*key);
  return out;
}

bool key_fits(const Jwk& k, JwtAlg alg, std::string_view alg_name) {
  if (!k.alg.empty() && k.alg != alg_name) return false;
  switch (alg) {
    case JwtAlg::rs256: return k.type == Jwk::Type::rsa;
    case JwtAlg::es256: return k.type == Jwk::Type::ec;
    case JwtAlg::eddsa: return k.type == Jwk::Type::okp;
    case JwtAlg::hs256: return k.type == Jwk::Type::oct;
  }
  return false;
}

bool alg_of(std::string_view name, JwtAlg& a) {
  if (name == "RS256") a = JwtAlg::rs256;
  else if (name == "ES256") a = JwtAlg::es256;
  else if (name == "EdDSA") a = JwtAlg::eddsa;
  else if (name == "HS256") a = JwtAlg::hs256;
  else return false;
  return true;
}

// ES256: the JWS signature is r||s (32 bytes each); EVP wants DER.
bool ecdsa_der(std::span<const std::uint8_t> raw, std::vector<std::uint8_t>& der) {
  if (raw.size() != 64) return false;
  ECDSA_SIG* sig = ECDSA_SIG_new();
  BIGNUM* r = BN_bin2bn(raw.data(), 32, nullptr);
  BIGNUM* s = BN_bin2bn(raw.data() + 32, 32, nullptr);
  if (sig == nullptr || r == nullptr || s == nullptr || ECDSA_SIG_set0(sig, r, s) != 1) {
    ECDSA_SIG_free(sig);
    BN_free(r);
    BN_free(s);
    return false;
  }
  unsigned char* out = nullptr;
  const int len = i2d_ECDSA_SIG(sig, &out);
  ECDSA_SIG_free(sig);
  if (len <= 0) return false;
  der.assign(out, out + len);
  OPENSSL_free(out);
  return true;
}

bool verify_with(const Jwk& k, JwtAlg alg, std::string_view input, std::span<const std::uint8_t> sig) {
  const auto* data = reinterpret_cast<const unsigned char*>(input.data());
  if (alg == JwtAlg::hs256) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (HMAC(EVP_sha256(), k.secret.data(), static_cast<int>(k.secret.size()), data, input.size(), mac, &len) ==
        nullptr) {
      return false;
    }
    return sig.size() == len && CRYPTO_memcmp(mac, sig.data(), len) == 0;
  }
  std::vector<std::uint8_t> der;
  std::span<const std::uint8_t> s = sig;
  if (alg == JwtAlg::es256) {
    if (!ecdsa_der(sig, der)) return false;
    s = der;
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr) return false;
  const EVP_MD* md = alg == JwtAlg::eddsa ? nullptr : EVP_sha256();
  bool ok = EVP_DigestVerifyInit(ctx, nullptr, md, nullptr, k.key.get()) == 1 &&
            EVP_DigestVerify(ctx, s.data(), s.size(), data, input.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

bool numeric_date(const json& claims, const char* name, std::int64_t& out, bool& bad) {
  const auto it = claims.find(name);
  if (it == claims.end()) return false;
  if (!it->is_number() || (it->is_number_float() && !std::isfinite(it->get<double>()))) {
    bad = true;
    return false;
  }
  const double v = it->get<double>();
  if (v < -1e15 || v > 1e15) {
    bad = true;
    return false;
  }
  out = static_cast<std::int64_t>(std::floor(v));
  return true;
}

bool listed(const std::vector<std::string>& list, const std::string& s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

JwtVerdict fail(std::string counter, std::string reason) {
  JwtVerdict v;
  v.error = {std::move(counter), std::move(reason)};
  return v;
}

}  // namespace

std::string_view jwt_alg_name(JwtAlg a) {
  switch (a) {
    case JwtAlg::rs256: return "RS256";
    case JwtAlg::es256: return "ES256";
    case JwtAlg::eddsa: return "EdDSA";
    case JwtAlg::hs256: return "HS256";
  }
  return "?";
}

Result<KeySet> parse_jwks(std::string_view text, std::size_t* skipped) {
  if (text.size() > kMaxJwks) return make_error("the JWKS is larger than {} KiB", kMaxJwks / 1024);
  json doc;
  if (!parse_object(text, doc)) return make_error("the JWKS is not a JSON object");
  KeySet set;
  std::size_t skip_count = 0;
  auto one = [&](const json& k) -> Result<void> {
    bool skip = false;
    auto r = read_jwk(k, skip);
    if (!r) return r.error();
    if (skip) {
      ++skip_count;
      return {};
    }
    set.keys.push_back(std::move(*r));
    return {};
  };
  if (const auto it = doc.find("keys"); it != doc.end()) {
    if (!it->is_array()) return make_error("the JWKS's keys is not a list");
    if (it->size() > kMaxJwksKeys) return make_error("the JWKS has more than {} keys", kMaxJwksKeys);
    for (const auto& k : *it) {
      if (auto r = one(k); !r) return r.error();
    }
  } else if (auto r = one(doc); !r) {
    return r.error();
  }
  if (skipped != nullptr) *skipped = skip_count;
  return set;
}

Jwk secret_key(std::string_view secret) {
  Jwk k;
  k.type = Jwk::Type::oct;
  k.alg = "HS256";
  k.secret.assign(secret.begin(), secret.end());
  return k;
}

bool parse_jwt(std::string_view token, ParsedJwt& out, JwtError& err) {
  auto malformed = [&](std::string why) {
    err = {"jwt_malformed", std::move(why)};
    return false;
  };
  if (token.empty()) return malformed("empty token");
  if (token.size() > kMaxJwt) return malformed(fmt::format("token longer than {} bytes", kMaxJwt));
  const auto d1 = token.find('.');
  const auto d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos) {
    return malformed("not a compact JWS (header.payload.signature)");
  }
  std::vector<std::uint8_t> hb, cb;
  if (!b64url(token.substr(0, d1), hb) || !parse_object({reinterpret_cast<const char*>(hb.data()), hb.size()}, out.header)) {
    return malformed("the header is not base64url JSON");
  }
  if (!b64url(token.substr(d1 + 1, d2 - d1 - 1), cb) ||
      !parse_object({reinterpret_cast<const char*>(cb.data()), cb.size()}, out.claims)) {
    return malformed("the payload is not base64url JSON");
  }
  if (!b64url(token.substr(d2 + 1), out.signature)) return malformed("the signature is not base64url");
  const auto* alg = str_member(out.header, "alg");
  if (alg == nullptr) return malformed("the header has no alg");
  out.alg_name = alg->substr(0, 32);
  if (out.header.contains("kid")) {
    const auto* kid = str_member(out.header, "kid");
    if (kid == nullptr || kid->size() > 256) return malformed("the header's kid is not a string of up to 256 bytes");
    out.kid = *kid;
  }
  if (out.header.contains("crit")) {
    err = {"jwt_malformed", "the header has crit extensions, none is understood"};
    return false;
  }
  out.signing_input = token.substr(0, d2);
  return true;
}

bool jws_signature_ok(std::string_view compact, const Jwk& key) {
  const auto d1 = compact.find('.');
  const auto d2 = compact.rfind('.');
  if (d1 == std::string_view::npos || d2 == d1) return false;
  std::vector<std::uint8_t> hb, sig;
  json header;
  if (!b64url(compact.substr(0, d1), hb) || !parse_object({reinterpret_cast<const char*>(hb.data()), hb.size()}, header) ||
      !b64url(compact.substr(d2 + 1), sig)) {
    return false;
  }
  const auto* name = str_member(header, "alg");
  JwtAlg alg{};
  if (name == nullptr || !alg_of(*name, alg) || !key_fits(key, alg, *name)) return false;
  return verify_with(key, alg, compact.substr(0, d2), sig);
}

JwtVerdict verify_jwt(std::string_view token, const KeySet& keys, const JwtRules& rules, std::int64_t now) {
  ParsedJwt t;
  JwtError err;
  if (!parse_jwt(token, t, err)) return fail(err.counter, err.reason);
  JwtAlg alg{};
  if (!alg_of(t.alg_name, alg)) {
    return fail("jwt_alg", t.alg_name == "none" || t.alg_name == "None" || t.alg_name == "NONE"
                               ? "unsigned tokens (alg none) are refused"
                               : "unsupported alg");
  }
  if (std::find(rules.algorithms.begin(), rules.algorithms.end(), alg) == rules.algorithms.end()) {
    return fail("jwt_alg", fmt::format("alg {} is not allowed here", t.alg_name));
  }
  // Keys that may check this token: the right type for the alg (no confusion), the kid if given.
  bool any_type = false, checked = false, verified = false;
  for (const auto& k : keys.keys) {
    if (!key_fits(k, alg, t.alg_name)) continue;
    any_type = true;
    if (!t.kid.empty() && !k.kid.empty() && k.kid != t.kid) continue;  // a key without kid fits any
    checked = true;
    if (verify_with(k, alg, t.signing_input, t.signature)) {
      verified = true;
      break;
    }
  }
  if (!any_type) return fail("jwt_alg", fmt::format("no key of the type {} needs (alg confusion refused)", t.alg_name));
  if (!checked) {
    auto v = fail("jwt_unknown_kid", "no key has the token's kid");
    v.unknown_kid = true;
    return v;
  }
  if (!verified) return fail("jwt_bad_signature", "the signature does not verify");
  // Claims, only once the signature holds.
  for (const auto& c : rules.required) {
    if (!t.claims.contains(c)) return fail("jwt_claims", fmt::format("claim {} is required", c));
  }
  bool bad = false;
  std::int64_t exp = 0, nbf = 0, iat = 0;
  const bool has_exp = numeric_date(t.claims, "exp", exp, bad);
  const bool has_nbf = numeric_date(t.claims, "nbf", nbf, bad);
  const bool has_iat = numeric_date(t.claims, "iat", iat, bad);
  if (bad) return fail("jwt_claims", "exp, nbf and iat must be numbers");
  if (has_exp && now >= exp + rules.skew_s) return fail("jwt_expired", "the token expired");
  if (has_nbf && now + rules.skew_s < nbf) return fail("jwt_not_yet_valid", "the token is not valid yet");
  if (has_iat && now + rules.skew_s < iat) return fail("jwt_not_yet_valid", "the token was issued in the future");
  if (!rules.issuers.empty()) {
    const auto* iss = str_member(t.claims, "iss");
    if (iss == nullptr || !listed(rules.issuers, *iss)) return fail("jwt_issuer", "the issuer is not accepted");
  }
  if (!rules.audiences.empty()) {
    bool ok = false;
    const auto it = t.claims.find("aud");
    if (it != t.claims.end() && it->is_string()) {
      ok = listed(rules.audiences, it->get_ref<const std::string&>());
    } else if (it != t.claims.end() && it->is_array()) {
      for (const auto& a : *it) ok = ok || (a.is_string() && listed(rules.audiences, a.get_ref<const std::string&>()));
    }
    if (!ok) return fail("jwt_audience", "the audience is not accepted");
  }
  JwtVerdict v;
  v.ok = true;
  v.claims = std::move(t.claims);
  if (has_exp) v.valid_until = exp + rules.skew_s;
  return v;
}

std::shared_ptr<const KeySet> JwksSource::keys() const {
  std::lock_guard lock(mu_);
  return keys_;
}

bool JwksSource::wants_fetch(std::int64_t now_ms, bool unknown_kid) const {
  std::lock_guard lock(mu_);
  if (url_.empty() || in_flight_) return false;
  const bool need = !keys_ || unknown_kid || now_ms >= expires_ms_;
  const bool allowed = last_attempt_ms_ < 0 || now_ms - last_attempt_ms_ >= min_refresh_ms_;
  return need && allowed;
}

bool JwksSource::begin_fetch(std::int64_t now_ms) {
  std::lock_guard lock(mu_);
  if (url_.empty() || in_flight_) return false;
  if (last_attempt_ms_ >= 0 && now_ms - last_attempt_ms_ < min_refresh_ms_) return false;
  in_flight_ = true;
  last_attempt_ms_ = now_ms;
  ++fetches_;
  return true;
}

void JwksSource::fetch_done(std::shared_ptr<const KeySet> keys, std::int64_t now_ms, std::int64_t max_age_s) {
  std::lock_guard lock(mu_);
  keys_ = std::move(keys);
  expires_ms_ = now_ms + max_age_s * 1000;
  last_attempt_ms_ = now_ms;  // the refresh limit counts from the end of a (slow) fetch too
  in_flight_ = false;
  last_error_.clear();
}

void JwksSource::fetch_failed(std::string why, std::int64_t now_ms) {
  std::lock_guard lock(mu_);
  in_flight_ = false;
  last_attempt_ms_ = now_ms;
  last_error_ = std::move(why);
}

std::string JwksSource::last_error() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

std::uint64_t JwksSource::fetches() const {
  std::lock_guard lock(mu_);
  return fetches_;
}

std::int64_t jwks_max_age(std::string_view cc, std::int64_t fallback, std::int64_t min_s, std::int64_t max_s) {
  std::int64_t v = fallback;
  std::string lower(cc);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower.find("no-store") != std::string::npos || lower.find("no-cache") != std::string::npos) v = min_s;
  if (const auto p = lower.find("max-age="); p != std::string::npos) {
    std::int64_t n = 0;
    std::size_t i = p + 8, digits = 0;
    for (; i < lower.size() && lower[i] >= '0' && lower[i] <= '9' && digits < 12; ++i, ++digits) {
      n = n * 10 + (lower[i] - '0');
    }
    if (digits > 0) v = n;
  }
  return std::clamp(v, min_s, max_s);
}

}  // namespace porthole::policy
