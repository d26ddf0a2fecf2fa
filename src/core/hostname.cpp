#include "core/hostname.hpp"

#include <idn2.h>

#include <cctype>
#include <climits>
#include <cstddef>
#include <iterator>
#include <vector>

#include <fmt/format.h>

namespace porthole {
namespace {

// Longer input cannot become a valid name except through many characters UTS #46 ignores;
// refusing it up front bounds the work done on hostile input.
constexpr std::size_t kMaxInput = 1024;

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}
bool ldh(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}
bool ascii(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

// Length of the valid UTF-8 sequence at s[i] (shortest form, no surrogates, ≤ U+10FFFF), or 0.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return 1;
  std::size_t n = b0 >= 0xf0 ? 4 : b0 >= 0xe0 ? 3 : b0 >= 0xc0 ? 2 : 0;
  if (n == 0 || b0 >= 0xf5 || b0 == 0xc0 || b0 == 0xc1 || i + n > s.size()) return 0;
  std::uint32_t cp = b0 & (0x7f >> n);
  for (std::size_t k = 1; k < n; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3f);
  }
  constexpr std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    auto n = utf8_sequence(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

// `s` for an error message: valid UTF-8 whatever the input (controls and stray bytes as \xNN),
// cut after 64 bytes.
std::string shown(std::string_view s) {
  std::string out;
  std::size_t i = 0;
  while (i < s.size() && out.size() < 64) {
    auto n = utf8_sequence(s, i);
    const auto b = static_cast<unsigned char>(s[i]);
    const bool control =
        b < 0x20 || b == 0x7f || (n == 2 && b == 0xc2 && static_cast<unsigned char>(s[i + 1]) < 0xa0);
    if (n == 0 || control) {
      out += fmt::format("\\x{:02x}", b);
      i += 1;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  if (i < s.size()) out += "...";
  return out;
}

// Checks one ASCII label (already split on '.') and appends it lowercased.
Result<void> add_ascii_label(std::string_view label, std::string_view original,
                             std::vector<std::string>& out) {
  if (label.empty()) return make_error("label '{}' is empty once mapped", shown(original));
  for (char c : label) {
    if (!ldh(c))
      return make_error("label '{}' has the character '{}' (use letters, digits and '-')", shown(original),
                        shown(std::string_view(&c, 1)));
  }
  if (label.front() == '-') return make_error("label '{}' starts with '-'", shown(original));
  if (label.back() == '-') return make_error("label '{}' ends with '-'", shown(original));
  if (label.size() > kMaxLabelLength)
    return make_error("label '{}' is longer than {} characters", shown(original), kMaxLabelLength);
  std::string l(label);
  for (char& c : l) c = lower(c);
  out.push_back(std::move(l));
  return {};
}

// UTS #46 ToASCII of one label with non-ASCII characters; the result may hold several labels
// (U+3002 and other full stops map to '.').
Result<std::string> to_a_labels(std::string_view label) {
  if (!valid_utf8(label)) return make_error("label '{}' is not valid UTF-8", shown(label));
  const std::string input(label);
  char* output = nullptr;
  int rc = idn2_to_ascii_8z(input.c_str(), &output, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
  if (rc != IDN2_OK) {
    idn2_free(output);
    output = nullptr;
    if (idn2_to_ascii_8z(input.c_str(), &output, IDN2_TRANSITIONAL | IDN2_NFC_INPUT) != IDN2_OK) {
      idn2_free(output);
      return make_error("label '{}' is not a valid international name: {}", shown(label), idn2_strerror(rc));
    }
  }
  std::string out = output != nullptr ? output : "";
  idn2_free(output);
  return out;
}

// Checks one label of the input (split on '.') and appends its normalised form (one or more
// labels).
Result<void> add_label(std::string_view label, std::string_view name, std::vector<std::string>& out) {
  if (label.empty())
    return make_error("empty label in '{}' (a leading dot or two dots in a row)", shown(name));
  for (char c : label) {
    if (static_cast<unsigned char>(c) < 0x80 && !ldh(c))
      return make_error("label '{}' has the character '{}' (use letters, digits and '-')", shown(label),
                        shown(std::string_view(&c, 1)));
  }
  if (label.front() == '-') return make_error("label '{}' starts with '-'", shown(label));
  if (label.back() == '-') return make_error("label '{}' ends with '-'", shown(label));
  if (ascii(label)) return add_ascii_label(label, label, out);
  auto mapped = to_a_labels(label);
  if (!mapped) return mapped.error();
  std::string_view rest = *mapped;
  while (true) {
    auto dot = rest.find('.');
    if (auto r = add_ascii_label(rest.substr(0, dot), label, out); !r) return r;
    if (dot == std::string_view::npos) return {};
    rest.remove_prefix(dot + 1);
  }
}

// normalize_hostname without the wildcard; `check_last` applies the not-all-digits rule.
Result<std::string> normalize_labels(std::string_view name, bool check_last) {
  std::vector<std::string> labels;
  std::string_view rest = name;
  while (true) {
    auto dot = rest.find('.');
    if (auto r = add_label(rest.substr(0, dot), name, labels); !r) return r.error();
    if (dot == std::string_view::npos) break;
    rest.remove_prefix(dot + 1);
  }
  std::string out;
  for (const auto& l : labels) {
    if (!out.empty()) out += '.';
    out += l;
  }
  if (out.size() > kMaxHostnameLength)
    return make_error("host name is longer than {} characters ({})", kMaxHostnameLength, out.size());
  const auto& last = labels.back();
  if (check_last && last.find_first_not_of("0123456789") == std::string::npos)
    return make_error("the last label '{}' is all digits (an IP address is not a host name)", last);
  return out;
}

Result<std::string> normalize(std::string_view name, bool allow_wildcard, bool check_last) {
  if (name.size() > kMaxInput)
    return make_error("host name is longer than {} characters", kMaxHostnameLength);
  if (name.ends_with('.')) name.remove_suffix(1);
  if (name.empty()) return make_error("empty host name");
  bool wildcard = false;
  if (allow_wildcard && (name == "*" || name.starts_with("*."))) {
    name.remove_prefix(name.size() == 1 ? 1 : 2);
    if (name.empty()) return make_error("a wildcard needs a suffix, like '*.example.test'");
    wildcard = true;
  }
  if (name.find('*') != std::string_view::npos) {
    if (allow_wildcard)
      return make_error("'*' is only allowed as the whole first label, like '*.example.test'");
    return make_error("wildcards ('*') are not allowed here");
  }
  auto out = normalize_labels(name, check_last);
  if (!out || !wildcard) return out;
  if (out->size() + 2 > kMaxHostnameLength)
    return make_error("host name is longer than {} characters ({})", kMaxHostnameLength, out->size() + 2);
  return "*." + *out;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// Short, friendly, inoffensive; each list has exactly 64 entries.
constexpr std::string_view kAdjectives[] = {
    "able",   "agile",  "amber",  "apt",    "bold",   "brave",  "breezy", "bright", "brisk",  "busy",
    "calm",   "candid", "cheery", "clever", "comfy",  "cosmic", "crisp",  "curly",  "dapper", "eager",
    "early",  "easy",   "fair",   "fancy",  "fluffy", "frank",  "fresh",  "gentle", "giddy",  "glad",
    "golden", "grand",  "happy",  "hardy",  "honest", "jolly",  "jovial", "keen",   "kind",   "lively",
    "lucky",  "mellow", "merry",  "mighty", "misty",  "modest", "neat",   "nimble", "noble",  "plucky",
    "polite", "proud",  "quick",  "quiet",  "rapid",  "shiny",  "silver", "smart",  "snug",   "sunny",
    "swift",  "tidy",   "witty",  "zesty",
};
constexpr std::string_view kAnimals[] = {
    "alpaca", "badger",  "beaver", "bison",  "bobcat",  "camel",   "canary",  "cougar",  "crane",   "cricket",
    "dingo",  "dolphin", "eagle",  "falcon", "ferret",  "finch",   "fox",     "gazelle", "gecko",   "gibbon",
    "goose",  "heron",   "hippo",  "ibis",   "jackal",  "jaguar",  "koala",   "lemur",   "leopard", "lion",
    "llama",  "lynx",    "magpie", "marmot", "meerkat", "mole",    "moose",   "newt",    "ocelot",  "orca",
    "osprey", "otter",   "owl",    "panda",  "parrot",  "pelican", "penguin", "puffin",  "quail",   "rabbit",
    "raven",  "robin",   "salmon", "seal",   "sparrow", "squid",   "stork",   "swan",    "tapir",   "tiger",
    "toucan", "turtle",  "walrus", "wombat",
};
static_assert(std::size(kAdjectives) == 64 && std::size(kAnimals) == 64);

}  // namespace

Result<std::string> normalize_hostname(std::string_view name, bool allow_wildcard) {
  return normalize(name, allow_wildcard, /*check_last=*/true);
}

bool hostname_matches(std::string_view pattern, std::string_view host) {
  if (pattern.starts_with("*.")) {
    auto suffix = pattern.substr(1);  // ".example.test"
    return host.size() > suffix.size() && iequals(host.substr(host.size() - suffix.size()), suffix);
  }
  return iequals(pattern, host);
}

int wildcard_specificity(std::string_view pattern) {
  if (!pattern.starts_with("*.")) return INT_MAX;
  auto suffix = pattern.substr(2);
  if (suffix.empty()) return 0;
  int labels = 1;
  for (char c : suffix) labels += c == '.' ? 1 : 0;
  return labels;
}

std::string random_readable_name(std::uint64_t random) {
  return fmt::format("{}-{}-{}", kAdjectives[random & 63], kAnimals[(random >> 6) & 63],
                     10 + (random >> 12) % 90);
}

Result<std::string> subdomain_host(std::string_view subdomain, std::string_view domain) {
  auto d = normalize(domain, /*allow_wildcard=*/false, /*check_last=*/true);
  if (!d) return make_error("relay domain '{}': {}", shown(domain), d.error().message);
  if (subdomain.ends_with('.')) return make_error("subdomain '{}' ends with '.'", shown(subdomain));
  auto s = normalize(subdomain, /*allow_wildcard=*/false, /*check_last=*/false);
  if (!s) return make_error("subdomain: {}", s.error().message);
  std::string host = *s + "." + *d;
  if (host.size() > kMaxHostnameLength) {
    return make_error("subdomain: {}.{} is longer than {} characters ({})", *s, *d, kMaxHostnameLength,
                      host.size());
  }
  return host;
}

}  // namespace porthole

namespace porthole {

Result<std::string> normalize_private_name(std::string_view name) {
  if (name.empty()) return make_error("the name is empty");
  if (name.size() > kMaxLabelLength) return make_error("the name is longer than {} characters", kMaxLabelLength);
  std::string out;
  out.reserve(name.size());
  for (const char ch : name) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) != 0 && c < 0x80) {
      out += static_cast<char>(std::tolower(c));
    } else if (c == '.' || c == '-' || c == '_') {
      out += static_cast<char>(c);
    } else {
      return make_error("'{}' may hold only letters, digits, '.', '-' and '_'", shown(name));
    }
  }
  auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  if (!alnum(out.front()) || !alnum(out.back())) {
    return make_error("'{}' must start and end with a letter or digit", out);
  }
  return out;
}

}  // namespace porthole
