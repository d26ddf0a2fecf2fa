// JWT verification (the `jwt` action, docs/policy.md): compact JWS parsing (strict base64url,
// JSON header and claims, size bounds), signatures RS256, ES256, EdDSA (Ed25519) and HS256 by
// OpenSSL 3 EVP, JWKS documents into keys, and the claim checks (iss, aud, exp/nbf/iat with a
// bounded skew, required claims). Pure: bytes and the time in, a verdict out; no I/O.
//
// Refused on principle: `alg: none` and any algorithm not listed; `crit` headers; a key whose
// type does not fit the token's algorithm (an HS256 token is only ever checked with an `oct`
// secret, never with the bytes of an RSA/EC/OKP public key), or whose JWK `alg`/`use` say
// otherwise; RSA keys under 2048 bits; EC points off the curve.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.hpp"

typedef struct evp_pkey_st EVP_PKEY;

namespace porthole::policy {

class FetchAllow;

enum class JwtAlg { rs256, es256, eddsa, hs256 };
std::string_view jwt_alg_name(JwtAlg a);

constexpr std::size_t kMaxJwt = 16 * 1024;       // a token (header + claims + signature)
constexpr std::size_t kMaxJwks = 256 * 1024;     // a JWKS document
constexpr std::size_t kMaxJwksKeys = 64;

struct Jwk {
  enum class Type { rsa, ec, okp, oct } type = Type::oct;
  std::string kid, alg, use;  // alg/use: as the JWK says ("" when absent)
  std::shared_ptr<EVP_PKEY> key;       // rsa, ec (P-256), okp (Ed25519)
  std::vector<std::uint8_t> secret;    // oct
};
struct KeySet {
  std::vector<Jwk> keys;
};

// A JWKS ({"keys": [...]}) or one JWK. Keys of unknown kty/crv, or `use` other than "sig",
// are skipped (counted in `skipped`); a malformed key of a known type is an error.
Result<KeySet> parse_jwks(std::string_view json, std::size_t* skipped = nullptr);
// An HS256 secret as a key (kid "", alg HS256).
Jwk secret_key(std::string_view secret);

struct ParsedJwt {
  nlohmann::json header, claims;
  std::string alg_name, kid;
  std::string_view signing_input;  // into the token text given to parse_jwt
  std::vector<std::uint8_t> signature;
};
struct JwtError {
  std::string counter;  // jwt_malformed, jwt_alg, ... (docs/policy.md: Counters)
  std::string reason;   // for logs, traces and the 401's error_description (no secrets, no quotes)
};
// Parses a compact JWS `header.claims.signature` (no JWE, no unencoded payloads).
bool parse_jwt(std::string_view token, ParsedJwt& out, JwtError& err);

// The signature alone (any payload: RFC 8037's example signs plain text), for `alg` by name;
// false also when `key` does not fit the alg.
bool jws_signature_ok(std::string_view compact, const Jwk& key);

struct JwtRules {
  std::vector<JwtAlg> algorithms = {JwtAlg::rs256, JwtAlg::es256, JwtAlg::eddsa, JwtAlg::hs256};
  std::vector<std::string> issuers, audiences;  // empty: not checked
  std::vector<std::string> required = {"exp"};   // claims that must be present
  std::int64_t skew_s = 60;                      // clock skew allowed for exp, nbf, iat
};

struct JwtVerdict {
  bool ok = false;
  bool unknown_kid = false;  // no key has the token's kid (a JWKS refresh may help)
  JwtError error;
  nlohmann::json claims;  // when ok
  // When ok: the first unix second at which the token no longer holds (exp + skew; no exp: never).
  std::int64_t valid_until = INT64_MAX;
};
JwtVerdict verify_jwt(std::string_view token, const KeySet& keys, const JwtRules& rules, std::int64_t unix_seconds);

// The keys of one jwt action: fixed (inline `jwks`, `secret`) or fetched by the relay
// (`jwks_url`; relay/jwks_cache.cpp does the I/O). The fetch schedule lives here so it is
// testable: keys are stale after their max-age; a refresh (for staleness or an unknown kid) is
// tried at most once per `min_refresh_s`; a failed refresh keeps the keys we have.
class JwksSource {
 public:
  explicit JwksSource(std::shared_ptr<const KeySet> fixed) : keys_(std::move(fixed)) {}
  JwksSource(std::string url, std::int64_t min_refresh_s) : url_(std::move(url)), min_refresh_ms_(min_refresh_s * 1000) {}
  const std::string& url() const { return url_; }
  bool fetched() const { return !url_.empty(); }
  std::shared_ptr<const KeySet> keys() const;
  // Fetched sources: whether a fetch should be made now (none yet, stale, or `unknown_kid`),
  // and allowed by the rate limit.
  bool wants_fetch(std::int64_t now_ms, bool unknown_kid) const;
  // Claims the fetch (single flight): false when another is under way or the rate limit says no.
  bool begin_fetch(std::int64_t now_ms);
  void fetch_done(std::shared_ptr<const KeySet> keys, std::int64_t now_ms, std::int64_t max_age_s);
  void fetch_failed(std::string why, std::int64_t now_ms);
  std::string last_error() const;
  std::uint64_t fetches() const;
  // Set by the relay at bind (relay.toml jwks_ca): the CA bundle the JWKS server is checked with.
  std::string ca_file;
  // Set by the relay: the private ranges it may fetch from (relay.toml policy_fetch_allow).
  std::shared_ptr<const FetchAllow> fetch_allow;

 private:
  mutable std::mutex mu_;  // keys may be read by several listener threads
  std::string url_;
  std::int64_t min_refresh_ms_ = 60000;
  std::shared_ptr<const KeySet> keys_;
  std::int64_t last_attempt_ms_ = -1, expires_ms_ = 0;
  bool in_flight_ = false;
  std::uint64_t fetches_ = 0;
  std::string last_error_;
};

// Cache-Control max-age (seconds) clamped to [min_s, max_s]; `fallback` when absent.
std::int64_t jwks_max_age(std::string_view cache_control, std::int64_t fallback = 300, std::int64_t min_s = 30,
                          std::int64_t max_s = 86400);

}  // namespace porthole::policy
