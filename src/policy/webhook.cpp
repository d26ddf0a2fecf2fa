#include "policy/webhook.hpp"
#include "core/ascii.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>

#include "core/encoding.hpp"
#include "policy/policy.hpp"

namespace porthole::policy {

namespace {

using P = WebhookSpec::Provider;

const std::string_view* header(const WebhookInput& in, std::string_view name, std::string_view& out) {
  for (const auto& h : *in.headers) {
    if (iequals(h.name, name)) {
      out = h.value;
      return &out;
    }
  }
  return nullptr;
}

std::string hmac(std::string_view algo, std::string_view key, std::string_view data) {
  const EVP_MD* md = algo == "sha1" ? EVP_sha1() : algo == "sha512" ? EVP_sha512() : EVP_sha256();
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()), data.size(),
       out, &len);
  return std::string(reinterpret_cast<const char*>(out), len);
}

std::string hex(std::string_view raw) {
  return encoding::hex_encode({reinterpret_cast<const std::uint8_t*>(raw.data()), raw.size()});
}
std::string b64(std::string_view raw) {
  std::string out(4 * ((raw.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(raw.data()), static_cast<int>(raw.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}
bool b64_decode(std::string_view in, std::string& out) {
  if (in.empty() || in.size() % 4 != 0 || in.size() > 4096) return false;
  out.assign(in.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  if (n < 0) return false;
  std::size_t pad = (in.back() == '=') + (in.size() > 1 && in[in.size() - 2] == '=');
  out.resize(static_cast<std::size_t>(n) - pad);
  return true;
}

bool same(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}
bool same_hex(std::string_view expected_lower, std::string_view got) {
  std::string g(got);
  for (auto& c : g) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return same(expected_lower, g);
}

WebhookResult missing(std::string what) { return {false, "missing signature: " + what, "webhook_missing"}; }
WebhookResult bad(std::string what) { return {false, "bad signature: " + what, "webhook_bad"}; }
WebhookResult expired(std::int64_t age) {
  return {false, fmt::format("expired signature: timestamp is {} s away from now", age), "webhook_expired"};
}
WebhookResult ok() { return {true, {}, {}}; }

bool parse_ts(std::string_view s, std::int64_t& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}
// Checks the replay window; the result is set when the timestamp is unusable or too old.
bool window_ok(std::string_view ts_text, const WebhookSpec& s, const WebhookInput& in, WebhookResult& r) {
  std::int64_t ts = 0;
  if (!parse_ts(ts_text, ts)) {
    r = bad("the timestamp is not a number");
    return false;
  }
  const auto age = in.unix_seconds - ts;
  if (age > s.tolerance_s || -age > s.tolerance_s) {
    r = expired(age < 0 ? -age : age);
    return false;
  }
  return true;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  while (true) {
    const auto i = s.find(sep);
    auto part = s.substr(0, i);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    if (!part.empty()) out.push_back(part);
    if (i == std::string_view::npos) break;
    s = s.substr(i + 1);
  }
  return out;
}

WebhookResult stripe(const WebhookSpec& s, const WebhookInput& in) {
  std::string_view h;
  if (!header(in, "Stripe-Signature", h)) return missing("no Stripe-Signature header");
  std::string_view ts;
  std::vector<std::string_view> sigs;
  for (auto item : split(h, ',')) {
    if (item.starts_with("t=")) ts = item.substr(2);
    if (item.starts_with("v1=")) sigs.push_back(item.substr(3));
  }
  if (ts.empty() || sigs.empty()) return bad("Stripe-Signature has no t= or v1=");
  WebhookResult r;
  if (!window_ok(ts, s, in, r)) return r;
  const auto want = hex(hmac("sha256", s.secret, fmt::format("{}.{}", ts, in.body)));
  for (auto sig : sigs) {
    if (same_hex(want, sig)) return ok();
  }
  return bad("no v1 signature matches");
}

WebhookResult github(const WebhookSpec& s, const WebhookInput& in) {
  std::string_view h;
  if (!header(in, "X-Hub-Signature-256", h)) return missing("no X-Hub-Signature-256 header");
  if (!h.starts_with("sha256=")) return bad("X-Hub-Signature-256 is not sha256=HEX");
  if (!same_hex(hex(hmac("sha256", s.secret, in.body)), h.substr(7))) return bad("the HMAC does not match");
  return ok();
}

WebhookResult slack(const WebhookSpec& s, const WebhookInput& in) {
  std::string_view sig, ts;
  if (!header(in, "X-Slack-Signature", sig)) return missing("no X-Slack-Signature header");
  if (!header(in, "X-Slack-Request-Timestamp", ts)) return missing("no X-Slack-Request-Timestamp header");
  WebhookResult r;
  if (!window_ok(ts, s, in, r)) return r;
  if (!sig.starts_with("v0=")) return bad("X-Slack-Signature is not v0=HEX");
  if (!same_hex(hex(hmac("sha256", s.secret, fmt::format("v0:{}:{}", ts, in.body))), sig.substr(3))) {
    return bad("the HMAC does not match");
  }
  return ok();
}

std::string form_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// Twilio: base64(HMAC-SHA1(auth token, URL + each POST parameter's name and value, sorted by
// name)) for form posts; JSON posts sign the URL alone (with bodySHA256 in its query).
WebhookResult twilio(const WebhookSpec& s, const WebhookInput& in) {
  std::string_view sig;
  if (!header(in, "X-Twilio-Signature", sig)) return missing("no X-Twilio-Signature header");
  std::string data(in.url);
  std::string_view ctype;
  header(in, "Content-Type", ctype);
  if (ctype.starts_with("application/x-www-form-urlencoded")) {
    std::multimap<std::string, std::string> params;
    for (auto kv : split(in.body, '&')) {
      const auto eq = kv.find('=');
      params.emplace(form_decode(kv.substr(0, eq)), eq == std::string_view::npos ? "" : form_decode(kv.substr(eq + 1)));
    }
    for (const auto& [k, v] : params) data += k + v;
  }
  if (!same(b64(hmac("sha1", s.secret, data)), sig)) return bad("the HMAC of the URL and parameters does not match");
  return ok();
}

WebhookResult shopify(const WebhookSpec& s, const WebhookInput& in) {
  std::string_view h;
  if (!header(in, "X-Shopify-Hmac-Sha256", h)) return missing("no X-Shopify-Hmac-Sha256 header");
  if (!same(b64(hmac("sha256", s.secret, in.body)), h)) return bad("the HMAC does not match");
  return ok();
}

// Standard Webhooks (Svix): HMAC-SHA256(base64-decoded secret, "id.timestamp.body"), base64,
// in "v1,SIG" entries separated by spaces; headers webhook-* (or svix-*).
WebhookResult standard(const WebhookSpec& s, const WebhookInput& in) {
  std::string_view id, ts, sigs;
  const bool std_names = header(in, "webhook-id", id) != nullptr;
  const std::string_view pre = std_names ? "webhook-" : "svix-";
  if (!std_names && !header(in, "svix-id", id)) return missing("no webhook-id header");
  if (!header(in, std::string(pre) + "timestamp", ts)) return missing("no webhook-timestamp header");
  if (!header(in, std::string(pre) + "signature", sigs)) return missing("no webhook-signature header");
  WebhookResult r;
  if (!window_ok(ts, s, in, r)) return r;
  std::string key;
  std::string_view secret = s.secret;
  if (secret.starts_with("whsec_")) secret.remove_prefix(6);
  if (!b64_decode(secret, key)) return bad("the secret is not base64");
  const auto want = b64(hmac("sha256", key, fmt::format("{}.{}.{}", id, ts, in.body)));
  for (auto entry : split(sigs, ' ')) {
    if (entry.starts_with("v1,") && same(want, entry.substr(3))) return ok();
  }
  return bad("no v1 signature matches");
}

WebhookResult generic(const WebhookSpec& s, const WebhookInput& in) {
  std::string_view sig;
  if (!header(in, s.header, sig)) return missing(fmt::format("no {} header", s.header));
  std::string_view ts;
  if (!s.timestamp_header.empty()) {
    if (!header(in, s.timestamp_header, ts)) return missing(fmt::format("no {} header", s.timestamp_header));
    WebhookResult r;
    if (!window_ok(ts, s, in, r)) return r;
  }
  if (!sig.starts_with(s.prefix)) return bad(fmt::format("{} does not start with '{}'", s.header, s.prefix));
  sig.remove_prefix(s.prefix.size());
  std::string content;
  std::string_view t = s.content;
  while (!t.empty()) {
    if (t.starts_with("{body}")) {
      content += in.body;
      t.remove_prefix(6);
    } else if (t.starts_with("{timestamp}")) {
      content += ts;
      t.remove_prefix(11);
    } else if (t.starts_with("{url}")) {
      content += in.url;
      t.remove_prefix(5);
    } else {
      content += t.front();
      t.remove_prefix(1);
    }
  }
  const auto mac = hmac(s.algorithm, s.secret, content);
  const bool match = s.encoding == "base64" ? same(b64(mac), sig) : same_hex(hex(mac), sig);
  if (!match) return bad("the HMAC does not match");
  return ok();
}

}  // namespace

Result<WebhookSpec::Provider> webhook_provider(std::string_view name) {
  static constexpr std::pair<std::string_view, P> names[] = {
      {"stripe", P::stripe}, {"github", P::github}, {"slack", P::slack}, {"twilio", P::twilio},
      {"shopify", P::shopify}, {"standard", P::standard}, {"svix", P::standard}, {"hmac", P::hmac}};
  for (const auto& [n, p] : names) {
    if (n == name) return p;
  }
  return make_error("unknown provider '{}' (stripe, github, slack, twilio, shopify, standard, svix, hmac)", name);
}

Result<void> check_webhook_spec(const WebhookSpec& s) {
  if (s.secret.empty()) return make_error("the secret is empty");
  if (s.provider == P::standard) {
    std::string key;
    std::string_view secret = s.secret;
    if (secret.starts_with("whsec_")) secret.remove_prefix(6);
    if (!b64_decode(secret, key)) return make_error("a Standard Webhooks secret is whsec_ followed by base64");
  }
  if (s.provider == P::hmac) {
    if (s.header.empty()) return make_error("hmac needs `header` (where the signature is)");
    if (s.algorithm != "sha1" && s.algorithm != "sha256" && s.algorithm != "sha512") {
      return make_error("algorithm: sha1, sha256 or sha512");
    }
    if (s.encoding != "hex" && s.encoding != "base64") return make_error("encoding: hex or base64");
    if (s.content.find("{timestamp}") != std::string::npos && s.timestamp_header.empty()) {
      return make_error("content uses {{timestamp}}: give timestamp_header");
    }
  }
  if (s.tolerance_s < 1 || s.tolerance_s > 86400) return make_error("tolerance: 1s..24h");
  return {};
}

WebhookResult verify_webhook(const WebhookSpec& s, const WebhookInput& in) {
  switch (s.provider) {
    case P::stripe: return stripe(s, in);
    case P::github: return github(s, in);
    case P::slack: return slack(s, in);
    case P::twilio: return twilio(s, in);
    case P::shopify: return shopify(s, in);
    case P::standard: return standard(s, in);
    case P::hmac: return generic(s, in);
  }
  return bad("unknown provider");
}

}  // namespace porthole::policy
