// The jwt action at evaluation time (jwt_action.hpp).
#include "policy/jwt_action.hpp"
#include "core/ascii.hpp"
#include "policy/request_parts.hpp"

#include <cctype>

namespace porthole::policy {

namespace {

// The token, or nullopt when the visitor sent none (where the spec looks).
std::optional<std::string_view> token_of(const JwtSpec& spec, const Input& in) {
  for (const auto& h : in.headers) {
    if (!iequals(h.name, spec.header)) continue;
    auto v = trim_ows(h.value);
    if (iequals(spec.header, "Authorization")) {
      if (v.size() < 7 || !iequals(v.substr(0, 7), "Bearer ")) continue;  // Basic etc.: not ours
      v = trim_ows(v.substr(7));
    }
    return v;
  }
  if (spec.cookie.empty()) return std::nullopt;
  return find_cookie(in, spec.cookie);
}

// A claim as a header value: strings as they are, other JSON as its text; nullopt when it
// could not be a header value (CR, LF, NUL or other controls) or is too long.
std::optional<std::string> header_value(const nlohmann::json& v) {
  std::string s = v.is_string() ? v.get<std::string>() : v.dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
  if (s.size() > 4096) return std::nullopt;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) return std::nullopt;
  }
  return s;
}

void reject(Decision& d, const JwtSpec& spec, int status, std::string counter, std::string reason, bool had_token) {
  // The reason goes into a quoted header parameter: printable ASCII without quotes only (the
  // verifier's reasons are fixed texts, but a header must never carry what a token put there).
  for (auto& c : reason) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u > 0x7e || c == '"' || c == '\\') c = '?';
  }
  d.allow = false;
  d.status = status;
  d.counter = std::move(counter);
  d.reason = std::move(reason);
  d.custom = true;
  d.body = "401 Unauthorized\n";
  // RFC 6750 §3: no error code when the request had no token.
  d.response_headers = {{"WWW-Authenticate",
                         had_token ? fmt::format("Bearer realm=\"{}\", error=\"invalid_token\", error_description=\"{}\"",
                                                 spec.realm, d.reason)
                                   : fmt::format("Bearer realm=\"{}\"", spec.realm)}};
}

}  // namespace

bool run_jwt(const JwtSpec& spec, const Input& in, Decision& d) {
  if (in.probe) return true;  // the real run (after the body was read) checks it
  const auto token = token_of(spec, in);
  if (!token) {
    reject(d, spec, 401, "jwt_missing", "a bearer token is required", false);
    return false;
  }
  auto& src = *spec.keys;
  auto ask_for_keys = [&](bool unknown_kid) {
    if (in.keys_refreshed || !src.wants_fetch(in.now_ms, unknown_kid)) return false;
    d.needs_keys = spec.keys;
    reject(d, spec, 401, "jwt_keys_pending", fmt::format("the JWKS at {} must be fetched first", src.url()), true);
    return true;
  };
  if (src.fetched() && ask_for_keys(false)) return false;
  const auto keys = src.keys();
  if (!keys) {
    reject(d, spec, 401, "jwt_keys_unavailable", "the signing keys could not be fetched", true);
    return false;
  }
  // A token seen before is not parsed and verified again while it holds and the keys are the same.
  const auto digest = credential_digest(*token);
  auto seen = spec.verified->find(digest);
  if (seen && (seen->keys != keys || in.unix_seconds >= seen->valid_until)) {
    spec.verified->erase(digest);
    seen.reset();
  }
  if (!seen) {
    auto v = verify_jwt(*token, *keys, spec.rules, in.unix_seconds);
    if (!v.ok) {
      if (v.unknown_kid && src.fetched() && ask_for_keys(true)) return false;
      reject(d, spec, 401, v.error.counter, v.error.reason, true);
      return false;
    }
    VerifiedJwt fresh;
    fresh.keys = keys;
    fresh.valid_until = v.valid_until;
    if (const auto it = v.claims.find(spec.identity_claim); it != v.claims.end() && it->is_string()) {
      if (auto s = header_value(*it)) fresh.identity = *s;
    }
    for (const auto& f : spec.forward) {
      const auto it = v.claims.find(f.claim);
      if (it == v.claims.end() || it->is_null()) continue;
      if (auto s = header_value(*it)) fresh.claim_headers.push_back({f.header, *s});
    }
    spec.verified->put(digest, fresh);
    seen = std::move(fresh);
  }
  if (!seen->identity.empty()) d.identity = seen->identity;
  for (const auto& f : spec.forward) d.remove_headers.push_back(f.header);  // a visitor's own copy never reaches the upstream
  for (const auto& h : seen->claim_headers) d.add_headers.push_back(h);
  return true;
}

}  // namespace porthole::policy
