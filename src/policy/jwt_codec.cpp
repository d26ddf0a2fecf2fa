// The jwt action's TOML form (jwt_codec.hpp). A secret is never echoed in a problem.
#include "policy/jwt_codec.hpp"

#include <cctype>

#include "policy/jwt_action.hpp"

namespace porthole::policy {

namespace {

class Reader {
 public:
  Reader(const toml::table& t, const std::string& prefix, std::vector<Problem>& out) : t_(t), prefix_(prefix), out_(out) {}
  void problem(std::string_view key, std::string text) {
    const auto* n = t_.get(key);
    out_.push_back({n ? n->source().begin.line : t_.source().begin.line, fmt::format("{}.{}", prefix_, key),
                    std::move(text)});
  }
  bool has(std::string_view key) const { return t_.contains(key); }
  bool str(std::string_view key, std::string& v) {
    const auto* n = t_.get(key);
    if (n == nullptr) return false;
    if (!n->is_string()) {
      problem(key, "expected a string");
      return false;
    }
    v = n->as_string()->get();
    if (v.size() > 64 * 1024) {
      problem(key, "too long");
      return false;
    }
    return true;
  }
  bool strs(std::string_view key, std::vector<std::string>& v, bool allow_empty = false) {
    const auto* n = t_.get(key);
    if (n == nullptr) return false;
    if (n->is_string()) {
      v.push_back(n->as_string()->get());
      return true;
    }
    const auto* a = n->as_array();
    if (a == nullptr || (a->empty() && !allow_empty)) {
      problem(key, a ? "empty list" : "expected a string or a list of strings");
      return false;
    }
    for (const auto& e : *a) {
      if (!e.is_string() || e.as_string()->get().size() > 1024) {
        problem(key, "expected strings (up to 1024 bytes) in the list");
        return false;
      }
      v.push_back(e.as_string()->get());
    }
    return true;
  }
  bool integer(std::string_view key, std::int64_t& v, std::int64_t lo, std::int64_t hi) {
    const auto* n = t_.get(key);
    if (n == nullptr) return false;
    if (!n->is_integer() || n->as_integer()->get() < lo || n->as_integer()->get() > hi) {
      problem(key, fmt::format("expected an integer {}..{}", lo, hi));
      return false;
    }
    v = n->as_integer()->get();
    return true;
  }
  const toml::node* node(std::string_view key) const { return t_.get(key); }

 private:
  const toml::table& t_;
  const std::string& prefix_;
  std::vector<Problem>& out_;
};

bool is_token(std::string_view s) {
  if (s.empty() || s.size() > 256) return false;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) == 0 && std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos) return false;
  }
  return true;
}
bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}
// Headers a claim may not be forwarded in: framing and routing fields, and the token's own.
bool forbidden_target(std::string_view h) {
  static constexpr std::string_view names[] = {"content-length", "transfer-encoding", "host", "connection", "upgrade",
                                               "te", "trailer", "keep-alive", "proxy-connection", "authorization",
                                               "cookie", "x-porthole-user"};
  for (auto n : names) {
    if (iequal(n, h)) return true;
  }
  return false;
}
bool plain_text(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == '"' || c == '\\') return false;
  }
  return true;
}

}  // namespace

void read_jwt_action(const toml::table& t, const std::string& prefix, std::vector<Problem>& out, Action& a) {
  Reader r(t, prefix, out);
  auto spec = std::make_shared<JwtSpec>();
  r.strs("issuer", spec->rules.issuers);
  r.strs("audience", spec->rules.audiences);
  std::vector<std::string> algs;
  if (r.strs("algorithms", algs)) {
    spec->rules.algorithms.clear();
    for (const auto& s : algs) {
      bool known = false;
      for (auto alg : {JwtAlg::rs256, JwtAlg::es256, JwtAlg::eddsa, JwtAlg::hs256}) {
        if (s == jwt_alg_name(alg)) {
          spec->rules.algorithms.push_back(alg);
          known = true;
        }
      }
      if (!known) r.problem("algorithms", fmt::format("'{}': expected RS256, ES256, EdDSA or HS256", s.substr(0, 32)));
    }
  }
  std::vector<std::string> required;
  if (r.strs("required_claims", required, true)) spec->rules.required = required;
  std::int64_t skew = spec->rules.skew_s, refresh = 60;
  if (r.integer("skew", skew, 0, 600)) spec->rules.skew_s = skew;
  r.integer("jwks_refresh", refresh, 1, 86400);
  if (r.str("header", spec->header) && !is_token(spec->header)) r.problem("header", "not a header field name");
  if (r.str("cookie", spec->cookie) && !is_token(spec->cookie)) r.problem("cookie", "not a cookie name");
  if (r.str("identity_claim", spec->identity_claim) && spec->identity_claim.empty()) {
    r.problem("identity_claim", "empty");
  }
  if (r.str("realm", spec->realm) && (!plain_text(spec->realm) || spec->realm.size() > 128)) {
    r.problem("realm", "up to 128 characters, no quotes, backslashes or controls");
  }
  if (const auto* n = r.node("forward_claims")) {
    if (const auto* tbl = n->as_table()) {
      for (const auto& [claim, header] : *tbl) {
        if (!header.is_string() || !is_token(header.as_string()->get()) || forbidden_target(header.as_string()->get())) {
          r.problem("forward_claims", fmt::format("{}: expected a header field name a policy may set", claim.str()));
          continue;
        }
        spec->forward.push_back({std::string(claim.str()), header.as_string()->get()});
      }
      if (spec->forward.size() > 32) r.problem("forward_claims", "more than 32 claims");
    } else {
      r.problem("forward_claims", "expected a table of CLAIM = \"Header-Name\"");
    }
  }

  // The keys: exactly one of jwks_url, jwks (jwks_file, inlined by the agent), secret.
  const int sources = int(r.has("jwks_url")) + int(r.has("jwks") || r.has("jwks_file")) + int(r.has("secret"));
  if (sources != 1) r.problem("jwks_url", "give exactly one of jwks_url, jwks_file (or jwks) and secret");
  std::string url, doc, secret;
  if (r.str("jwks_url", url)) {
    if (!url.starts_with("https://") || url.size() < 9 || url.find_first_of(" \r\n\"") != std::string::npos) {
      r.problem("jwks_url", "expected an https:// URL");
    }
    spec->keys = std::make_shared<JwksSource>(url, refresh);
  }
  if (r.has("jwks_file") && !r.has("jwks")) {
    r.problem("jwks_file", "jwks_file is read from a policy file (--policy FILE, policy_file = ...) where the agent runs");
  }
  if (r.str("jwks", doc)) {
    auto ks = parse_jwks(doc);
    if (!ks) {
      r.problem(r.has("jwks_file") ? "jwks_file" : "jwks", ks.error().message);
    } else if (ks->keys.empty()) {
      r.problem(r.has("jwks_file") ? "jwks_file" : "jwks", "no usable signing key in the JWKS");
    } else {
      spec->keys = std::make_shared<JwksSource>(std::make_shared<const KeySet>(std::move(*ks)));
    }
  }
  if (r.str("secret", secret)) {
    if (secret.size() < 32) {
      r.problem("secret", "an HS256 secret needs at least 32 bytes");  // the value itself is never shown
    } else {
      KeySet ks;
      ks.keys.push_back(secret_key(secret));
      spec->keys = std::make_shared<JwksSource>(std::make_shared<const KeySet>(std::move(ks)));
    }
  }
  if (!spec->keys) spec->keys = std::make_shared<JwksSource>(std::make_shared<const KeySet>());
  a.status = 401;
  a.jwt = std::move(spec);
}

}  // namespace porthole::policy
