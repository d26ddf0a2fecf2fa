// The `oidc` action (docs/policy.md): browser login at the relay with the authorization code
// flow (PKCE S256, state and nonce), a sealed session cookie per host, a logout path, allowed
// e-mail domains and users, and the identity passed upstream in headers visitors cannot forge.
// Pure: the evaluation decides from the request and what is cached; the I/O (discovery, token
// exchange, the provider's JWKS) is relay/oidc_fetch.cpp, asked for through the Decision
// (needs_discovery, oidc_exchange) like the jwt action asks for JWKS.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "policy/codec.hpp"
#include "policy/jwt.hpp"
#include "policy/policy.hpp"

namespace porthole::policy {

class CookieSealer;
class FetchAllow;

// The provider's metadata (OpenID Connect Discovery 1.0 §3), as far as the relay uses it.
struct OidcDiscovery {
  std::string issuer, authorization_endpoint, token_endpoint, jwks_uri;
  bool client_secret_post = false;  // else client_secret_basic (the default of RFC 8414)
};
constexpr std::size_t kMaxDiscovery = 64 * 1024;
// Checks: a JSON object of at most kMaxDiscovery bytes; `issuer` exactly `expected_issuer`
// (§4.3); the three endpoints https:// URLs without spaces or fragments; if
// code_challenge_methods_supported is given it has S256; client_secret_post only when the
// provider lists it and not client_secret_basic.
Result<OidcDiscovery> parse_oidc_discovery(std::string_view json, std::string_view expected_issuer);
// The id_token of a token endpoint's JSON answer (RFC 6749 §5.1; OIDC Core §3.1.3.3).
Result<std::string> parse_token_response(std::string_view json);

// One issuer's discovery document and signing keys, fetched by the relay on first use.
class OidcProvider {
 public:
  explicit OidcProvider(std::string issuer) : issuer_(std::move(issuer)) {}
  const std::string& issuer() const { return issuer_; }
  std::shared_ptr<const OidcDiscovery> discovery() const;
  std::shared_ptr<JwksSource> jwks() const;  // the jwks_uri's keys (after discovery)
  // Discovery is fetched once; after a failure again at most every 10 s, one fetch at a time.
  bool wants_fetch(std::int64_t now_ms) const;
  bool begin_fetch(std::int64_t now_ms);
  void fetch_done(OidcDiscovery d);
  void fetch_failed(std::string why);
  std::string last_error() const;
  // Set by the relay when it compiles the policy (relay/oidc_fetch.cpp).
  std::string ca_file;
  std::shared_ptr<const FetchAllow> fetch_allow;
  std::shared_ptr<const CookieSealer> sealer;  // the relay's session cookie key

 private:
  mutable std::mutex mu_;
  std::string issuer_;
  std::shared_ptr<const OidcDiscovery> discovery_;
  std::shared_ptr<JwksSource> jwks_;
  std::int64_t last_attempt_ms_ = -1;
  bool in_flight_ = false;
  std::string last_error_;
};

struct OidcSpec {
  std::string issuer, client_id, client_secret;  // the secret is never logged, traced or echoed
  std::string scopes = "openid email profile";
  std::vector<std::string> allowed_domains, allowed_users;  // lower-cased; empty: anyone the provider knows
  std::string callback_path = "/.porthole/oidc/callback";
  std::string logout_path = "/.porthole/oidc/logout";
  std::int64_t session_lifetime_s = 12 * 3600;
  std::string cookie_name = "porthole_session";
  std::string email_header = "X-Porthole-Email";  // X-Porthole-User carries the identity
  std::int64_t skew_s = 60;
  std::shared_ptr<OidcProvider> provider;
};

// What the relay must do after a valid callback: exchange `code` at the token endpoint, then
// call finish_oidc_login with the answer.
struct OidcExchange {
  std::shared_ptr<const OidcSpec> spec;
  std::string code, verifier, nonce, redirect_uri, return_to, host;
};

constexpr std::int64_t kLoginCookieLifetime = 600;  // a login must come back within 10 minutes

// Runs an oidc action: true when the visitor has a valid session (identity and headers set).
bool run_oidc(const std::shared_ptr<const OidcSpec>& spec, const Input& in, Decision& d);

// The callback's end: the token endpoint's answer (`status`, `body`) checked — the ID token's
// signature with the provider's keys, iss, aud = client_id (azp when several), exp/iat, nonce —
// then the allowed domains/users; the decision is a 302 to the original path with the session
// cookie set, or a denial. `unknown_kid` is set when a JWKS refresh may help.
Decision finish_oidc_login(const OidcExchange& x, int status, std::string_view body, const KeySet* keys,
                           std::int64_t unix_seconds, bool* unknown_kid = nullptr);

// The pieces, for tests: whether claims (sub, email, email_verified) pass the allow lists.
bool oidc_user_allowed(const OidcSpec& spec, std::string_view sub, std::string_view email);
// A return path that stays on this host: "/..." but not "//..." or "/\..."; else "/".
std::string safe_return_path(std::string_view target);
// application/x-www-form-urlencoded / query component encoding (RFC 3986 unreserved kept).
std::string form_encode(std::string_view s);

// The TOML reader of the action (oidc_codec.cpp).
void read_oidc_action(const toml::table& t, const std::string& prefix, std::vector<Problem>& out, Action& a);
inline constexpr std::string_view kOidcKeys[] = {"issuer", "client_id", "client_secret", "scopes", "allowed_domains",
                                                 "allowed_users", "callback_path", "logout_path", "session_lifetime",
                                                 "cookie_name", "email_header", "skew"};

}  // namespace porthole::policy
