// Fuzzes core/hostname: normalize_hostname (with and without wildcards), subdomain_host and
// hostname_matches on any bytes. No crash; an accepted name is short, lowercase LDH labels (and
// a leading "*." only when allowed), normalises to itself and matches itself; every error
// message is valid UTF-8 (it goes into JSON control messages and admin API replies).
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/hostname.hpp"

namespace {

using porthole::Result;

void check_message(const porthole::Error& e) {
  try {
    (void)nlohmann::json(e.message).dump();
  } catch (...) {
    __builtin_trap();
  }
  if (e.message.empty()) __builtin_trap();
}

void check_name(const std::string& name, bool wildcard) {
  if (name.empty() || name.size() > porthole::kMaxHostnameLength) __builtin_trap();
  std::string_view rest = name;
  if (rest.starts_with("*.")) {
    if (!wildcard) __builtin_trap();
    rest.remove_prefix(2);
  }
  for (char c : rest) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
    if (!ok) __builtin_trap();
  }
  auto again = porthole::normalize_hostname(name, wildcard);
  if (!again || *again != name) __builtin_trap();
  if (!porthole::hostname_matches(name, name) && !name.starts_with("*.")) __builtin_trap();
  if (name.starts_with("*.") && porthole::hostname_matches(name, name.substr(2))) __builtin_trap();
  (void)porthole::wildcard_specificity(name);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (bool wildcard : {false, true}) {
    auto r = porthole::normalize_hostname(text, wildcard);
    if (r) {
      check_name(*r, wildcard);
    } else {
      check_message(r.error());
    }
  }
  if (auto s = porthole::subdomain_host(text, "example.test")) {
    check_name(*s, false);
    if (!s->ends_with(".example.test")) __builtin_trap();
  } else {
    check_message(s.error());
  }
  // The text split at its first newline: pattern and host.
  auto nl = text.find('\n');
  if (nl != std::string_view::npos) {
    auto pattern = porthole::normalize_hostname(text.substr(0, nl), true);
    auto host = porthole::normalize_hostname(text.substr(nl + 1), false);
    if (pattern && host && porthole::hostname_matches(*pattern, *host) && pattern->starts_with("*.") &&
        !host->ends_with(pattern->substr(1)))
      __builtin_trap();
  }
  if (size >= 8) {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | data[i];
    check_name(porthole::random_readable_name(v), false);
  }
  return 0;
}
