// A traffic policy, compiled: ordered named rules per phase (on_tcp_connect, on_http_request,
// on_http_response). A rule has conditions (all must hold) and actions (run in order). The first
// rule whose conditions hold decides; a rule marked `continue = true` lets the next rules be
// looked at too once its actions passed. No rule matching = allow. Pure: no I/O; the only state
// is the rate limiters' windows and the basic-auth cache, owned by the Policy (one per endpoint,
// used from one thread). Read from TOML by policy_codec.cpp; evaluated by evaluate.cpp.
// docs/policy.md is the user-facing description.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "policy/cidr.hpp"

namespace re2 {
class RE2;
}

namespace porthole::policy {

enum class Phase { tcp_connect, http_request, http_response };
inline constexpr std::array<std::string_view, 3> kPhaseNames = {"on_tcp_connect", "on_http_request",
                                                                 "on_http_response"};

// A string test: exact, prefix, glob (`*` any run, `?` one character) or RE2 regex.
struct StrMatch {
  enum class Kind { exact, prefix, glob, regex } kind = Kind::exact;
  std::string text;
  bool fold_case = false;  // host names, SNI
  std::shared_ptr<const re2::RE2> re;
  bool test(std::string_view s) const;
  std::string describe() const;  // `prefix "/api/"`
};

// A header or query parameter test.
struct FieldTest {
  std::string name;
  enum class Op { present, absent, equals, matches } op = Op::present;
  StrMatch value;  // equals: exact; matches: regex
};

// Days of the week and minutes of the day, at a fixed UTC offset; from > to wraps midnight.
struct TimeWindow {
  std::uint8_t days = 0x7f;  // bit 0 = Monday
  int from_min = 0, to_min = 24 * 60;
  int utc_offset_min = 0;
  bool test(std::int64_t unix_seconds) const;
};

struct Condition {
  enum class Kind { ip, not_ip, method, host, path, query, header, sni, mtls_subject, time, status } kind;
  CidrSet cidrs;
  std::vector<std::string> words;  // ip texts (for traces), methods
  std::vector<StrMatch> strings;   // any of them
  std::vector<FieldTest> fields;   // all of them
  TimeWindow window;
  std::vector<int> statuses;
};

class RateLimiter;
class BasicAuth;
struct WebhookSpec;
struct JwtSpec;
class JwksSource;
struct OidcSpec;
class OidcProvider;
struct OidcExchange;

struct Header {
  std::string name, value;
};

struct Action {
  enum class Kind {
    allow, deny, custom_response, redirect, url_rewrite, add_headers, remove_headers,
    restrict_ips, basic_auth, rate_limit, verify_webhook, jwt, oidc
  } kind;
  int status = 0;
  std::string body, to;
  bool keep_path = false;
  std::vector<Header> headers;        // add-headers, custom-response
  std::vector<std::string> names;     // remove-headers
  std::shared_ptr<const re2::RE2> from;  // url-rewrite
  CidrSet allow, deny;                // restrict-ips
  bool has_allow = false;
  std::shared_ptr<BasicAuth> auth;
  std::shared_ptr<RateLimiter> limiter;
  std::shared_ptr<const WebhookSpec> webhook;
  std::shared_ptr<const JwtSpec> jwt;
  std::shared_ptr<const OidcSpec> oidc;
  std::uint64_t max_body = 1 << 20;  // verify-webhook: the body is buffered up to this (413 above)
};

struct Rule {
  std::string name;
  std::uint32_t line = 0;
  std::vector<Condition> when;
  std::vector<Action> actions;
  bool continue_after = false;
};

struct Policy {
  std::array<std::vector<Rule>, 3> phases;
  std::string canonical;  // the document as TOML: what the agent sends in Bind
  bool needs_body = false;  // some on_http_request rule verifies a webhook (the body is read first)
  std::vector<std::string> protected_headers;  // jwt forward_claims headers: visitors' copies always removed
  bool empty() const {
    return phases[0].empty() && phases[1].empty() && phases[2].empty();
  }
  const std::vector<Rule>& rules(Phase p) const { return phases[static_cast<int>(p)]; }
  // True when some on_tcp_connect rule (or restrict-ips action) can allow by IP: the
  // sensitive-port check counts it as an allow list.
  bool has_ip_allow_rule() const;
};

// What is known of a visitor and its request (or response) when a phase runs.
struct HeaderRef {
  std::string_view name, value;
};
struct Input {
  std::string_view ip;  // L4 address, or one a trusted PROXY header gave; never X-Forwarded-For
  std::string_view sni, mtls_subject;
  std::string_view method, host, target;  // target: origin-form "/path?query"
  std::vector<HeaderRef> headers;         // request headers (response phase: response headers)
  int status = 0;                         // response phase
  std::int64_t unix_seconds = 0;          // wall clock (time windows)
  std::int64_t now_ms = 0;                // monotonic (rate limits)
  std::string_view identity;              // set by an earlier authentication
  std::string_view scheme = "http";       // how the visitor reached the relay (webhook URLs)
  const std::string* body = nullptr;      // the request body, once buffered (verify-webhook)
  bool keys_refreshed = false;            // the jwt JWKS fetch a Decision asked for was tried
  // A run again after a JWKS fetch: its first `rate_hits_done` rate-limit actions were counted by
  // the run that asked for the keys (Decision::rate_hits), so they pass without counting twice.
  int rate_hits_done = 0;
  // A probe run (bodies not read yet): stops at the first verify-webhook it reaches (setting
  // Decision::needs_body) and counts no rate limit; the real run follows.
  bool probe = false;
};

struct Decision {
  bool allow = true;
  int status = 0;      // deny / respond: the status to answer (0 on a TCP close)
  std::string reason;  // for logs and the deny page (never a secret)
  std::string counter;  // the denial's reason label in /metrics: ip, rule, basic_auth, rate_limit, ...
  std::string rule;     // the rule that decided ("" = none matched: allowed)
  bool custom = false;  // `body`/`response_headers` are the whole answer (custom-response, redirect, 401, 429)
  std::string body;
  std::vector<Header> response_headers;
  // Allowed requests: edits to the request (or response, in on_http_response).
  std::vector<Header> add_headers;
  std::vector<std::string> remove_headers;
  std::optional<std::string> new_target;
  std::string identity;  // the authenticated user, for the upstream and rate-limit keys
  bool needs_body = false;     // probe: a verify-webhook was reached; read up to max_body and run again
  std::uint64_t max_body = 0;
  // jwt with jwks_url: the keys need fetching (none yet, stale, or an unknown kid). The decision
  // is a 401 meanwhile (fail closed); the caller fetches and runs again with keys_refreshed.
  std::shared_ptr<JwksSource> needs_keys;
  int rate_hits = 0;  // rate-limit actions passed (counted now, or already by the run before a fetch)
  // oidc: the provider's discovery document must be fetched first (a 503 meanwhile; the caller
  // fetches and runs again, like needs_keys), or a callback's code must be exchanged (the
  // caller does it and answers with policy::finish_oidc_login).
  std::shared_ptr<OidcProvider> needs_discovery;
  std::shared_ptr<const OidcExchange> oidc_exchange;
  std::vector<std::string> trace;  // with `explain`: every rule looked at, and why
};

// Runs a phase. `explain` fills Decision::trace (for `porthole policy test`).
Decision evaluate(const Policy& p, Phase phase, const Input& in, bool explain = false);

// Path as matched by conditions: percent-encoded unreserved characters decoded, dot segments
// removed ("/a/%2e%2e/admin" and "/a/../admin" are "/admin"), query cut off.
std::string normalize_path(std::string_view target);

}  // namespace porthole::policy
