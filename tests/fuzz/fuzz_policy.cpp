// Fuzzes the policy document (the relay compiles what an agent sends in Bind: hostile input)
// and, when it compiles, evaluates it on a request made from the same bytes, and re-parses
// its canonical form (which must compile again).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "config/policy_file.hpp"
#include "policy/decision.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto p = porthole::config::parse_policy(text, "fuzz.toml");
  if (!p) return 0;
  auto again = porthole::config::parse_policy((*p)->canonical, "canonical");
  if (!again) std::abort();  // the canonical document of a valid policy must be valid
  using porthole::policy::Phase;
  porthole::policy::Input in;
  const auto cut = std::min<std::size_t>(size, 64);
  const std::string_view tail = text.substr(size - cut);
  in.ip = size % 2 ? "10.1.2.3" : "::ffff:192.0.2.7";
  in.method = "GET";
  in.host = tail;
  in.target = tail;
  in.headers = {{"Authorization", tail}, {"X-Key", tail}};
  in.unix_seconds = static_cast<std::int64_t>(size) * 7919;
  in.now_ms = static_cast<std::int64_t>(size);
  for (auto ph : {Phase::tcp_connect, Phase::http_request, Phase::http_response}) {
    (void)porthole::policy::decide(p->get(), p->get(), ph, in, true);
  }
  (void)porthole::policy::normalize_path(text);
  return 0;
}
