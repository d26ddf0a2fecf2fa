#include "acme/acme_codec.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>

#include <nlohmann/json.hpp>

namespace porthole::acme {

namespace {

using nlohmann::json;

Result<json> parse_object(std::string_view body, std::string_view what) {
  auto j = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return make_error("the {} is not JSON", what);
  if (!j.is_object()) return make_error("the {} is not a JSON object", what);
  return j;
}

// The string member `key`, or "" when it is missing or not a string.
std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

// The dns value of an {"type":"dns","value":...} identifier, or "".
std::string identifier_value(const json& j) {
  if (!j.is_object()) return {};
  return str(j, "value");
}

Problem problem_from(const json& j) {
  Problem p;
  p.type = str(j, "type");
  p.detail = str(j, "detail");
  if (auto it = j.find("status"); it != j.end() && it->is_number_integer()) {
    auto v = it->get<std::int64_t>();
    if (v >= 100 && v <= 599) p.status = static_cast<int>(v);
  }
  if (auto it = j.find("subproblems"); it != j.end() && it->is_array()) {
    for (const auto& s : *it) {
      if (!s.is_object()) continue;
      Subproblem sp{str(s, "type"), str(s, "detail"), {}};
      if (auto id = s.find("identifier"); id != s.end()) sp.identifier = identifier_value(*id);
      p.subproblems.push_back(std::move(sp));
      if (p.subproblems.size() >= 100) break;
    }
  }
  if (p.type.empty()) p.type = "about:blank";  // RFC 7807 3.1
  return p;
}

std::optional<Problem> optional_problem(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_object()) return std::nullopt;
  return problem_from(*it);
}

Challenge challenge_from(const json& j) {
  Challenge c{str(j, "type"), str(j, "url"), str(j, "token"), str(j, "status"), optional_problem(j, "error")};
  return c;
}

bool is_https_url(std::string_view s) { return s.starts_with("https://") && s.size() > 8; }

}  // namespace

std::string Problem::short_type() const {
  if (type.starts_with(kErrorPrefix)) return type.substr(kErrorPrefix.size());
  return type;
}

std::string Problem::summary() const {
  std::string s = short_type();
  if (!detail.empty()) s += ": " + detail;
  for (std::size_t i = 0; i < subproblems.size() && i < 5; ++i) {
    const auto& sp = subproblems[i];
    s += i == 0 ? " (" : "; ";
    if (!sp.identifier.empty()) s += sp.identifier + ": ";
    s += sp.detail.empty() ? Problem{sp.type, {}, 0, {}}.short_type() : sp.detail;
  }
  if (!subproblems.empty()) s += ")";
  return s;
}

Result<Directory> parse_directory(std::string_view body) {
  auto j = parse_object(body, "ACME directory");
  if (!j) return j.error();
  Directory d{str(*j, "newNonce"), str(*j, "newAccount"), str(*j, "newOrder"), {}};
  if (auto meta = j->find("meta"); meta != j->end() && meta->is_object()) d.terms_of_service = str(*meta, "termsOfService");
  for (auto [name, url] : {std::pair{"newNonce", &d.new_nonce}, std::pair{"newAccount", &d.new_account},
                           std::pair{"newOrder", &d.new_order}}) {
    if (!is_https_url(*url)) return make_error("the ACME directory has no https URL for {}", name);
  }
  return d;
}

Result<Problem> parse_problem(std::string_view body) {
  auto j = parse_object(body, "problem document");
  if (!j) return j.error();
  return problem_from(*j);
}

Result<Order> parse_order(std::string_view body) {
  auto j = parse_object(body, "ACME order");
  if (!j) return j.error();
  Order o;
  o.status = str(*j, "status");
  o.finalize = str(*j, "finalize");
  o.certificate = str(*j, "certificate");
  o.error = optional_problem(*j, "error");
  if (o.status.empty()) return make_error("the ACME order has no status");
  if (auto it = j->find("authorizations"); it != j->end() && it->is_array()) {
    for (const auto& a : *it) {
      if (a.is_string() && is_https_url(a.get_ref<const std::string&>())) o.authorizations.push_back(a.get<std::string>());
    }
  }
  if (auto it = j->find("identifiers"); it != j->end() && it->is_array()) {
    for (const auto& i : *it) o.identifiers.push_back(identifier_value(i));
  }
  if (!o.finalize.empty() && !is_https_url(o.finalize)) return make_error("the ACME order's finalize URL is not https");
  if (!o.certificate.empty() && !is_https_url(o.certificate)) {
    return make_error("the ACME order's certificate URL is not https");
  }
  return o;
}

Result<Authorization> parse_authorization(std::string_view body) {
  auto j = parse_object(body, "ACME authorization");
  if (!j) return j.error();
  Authorization a;
  a.status = str(*j, "status");
  if (a.status.empty()) return make_error("the ACME authorization has no status");
  if (auto it = j->find("identifier"); it != j->end()) a.identifier = identifier_value(*it);
  if (auto it = j->find("wildcard"); it != j->end() && it->is_boolean()) a.wildcard = it->get<bool>();
  if (auto it = j->find("challenges"); it != j->end() && it->is_array()) {
    for (const auto& c : *it) {
      if (!c.is_object()) continue;
      auto ch = challenge_from(c);
      if (ch.error && !a.error) a.error = ch.error;
      a.challenges.push_back(std::move(ch));
      if (a.challenges.size() >= 32) break;
    }
  }
  return a;
}

Result<Challenge> parse_challenge(std::string_view body) {
  auto j = parse_object(body, "ACME challenge");
  if (!j) return j.error();
  auto c = challenge_from(*j);
  if (c.status.empty()) return make_error("the ACME challenge has no status");
  return c;
}

bool valid_token(std::string_view token) {
  if (token.size() < 22 || token.size() > 256) return false;
  return std::all_of(token.begin(), token.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
  });
}

std::optional<std::chrono::seconds> parse_retry_after(std::string_view v, std::time_t now) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  if (v.empty()) return std::nullopt;
  if (std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (v.size() > 9) return std::chrono::seconds(999'999'999);
    std::int64_t n = 0;
    for (char c : v) n = n * 10 + (c - '0');
    return std::chrono::seconds(n);
  }
  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" (exactly 29 characters).
  if (v.size() != 29 || v.substr(3, 2) != ", " || v.substr(25) != " GMT") return std::nullopt;
  static constexpr std::string_view kMonths = "JanFebMarAprMayJunJulAugSepOctNovDec";
  auto num = [&](std::size_t at, std::size_t n, int& out) {
    out = 0;
    for (std::size_t i = at; i < at + n; ++i) {
      if (v[i] < '0' || v[i] > '9') return false;
      out = out * 10 + (v[i] - '0');
    }
    return true;
  };
  int day = 0, year = 0, hh = 0, mm = 0, ss = 0;
  const auto mon = kMonths.find(v.substr(8, 3));
  if (mon == std::string_view::npos || mon % 3 != 0 || v[7] != ' ' || v[11] != ' ' || v[16] != ' ' || v[19] != ':' ||
      v[22] != ':' || !num(5, 2, day) || !num(12, 4, year) || !num(17, 2, hh) || !num(20, 2, mm) || !num(23, 2, ss)) {
    return std::nullopt;
  }
  if (day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 || year < 1970) return std::nullopt;
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = static_cast<int>(mon / 3);
  tm.tm_mday = day;
  tm.tm_hour = hh;
  tm.tm_min = mm;
  tm.tm_sec = ss;
  const std::time_t at = ::timegm(&tm);
  if (at == static_cast<std::time_t>(-1)) return std::nullopt;
  return std::chrono::seconds(at > now ? at - now : 0);
}

Result<std::vector<std::string>> split_pem_chain(std::string_view pem) {
  static constexpr std::string_view kBegin = "-----BEGIN CERTIFICATE-----";
  static constexpr std::string_view kEnd = "-----END CERTIFICATE-----";
  std::vector<std::string> out;
  std::size_t at = 0;
  while ((at = pem.find(kBegin, at)) != std::string_view::npos) {
    const auto end = pem.find(kEnd, at + kBegin.size());
    if (end == std::string_view::npos) return make_error("the certificate chain has an unterminated PEM block");
    out.emplace_back(pem.substr(at, end + kEnd.size() - at));
    out.back() += "\n";
    at = end + kEnd.size();
    if (out.size() > 16) return make_error("the certificate chain has more than 16 certificates");
  }
  if (out.empty()) return make_error("the certificate chain holds no PEM certificate");
  return out;
}

}  // namespace porthole::acme
