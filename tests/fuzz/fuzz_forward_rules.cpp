// Fuzz target: the forwarding rules parsers, expansion and diff (src/forward/rules_codec.cpp).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "forward/rules.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace porthole::forward;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto rules = parse_rules_file(text, "fuzz");
  if (rules) {
    auto ls = expand(*rules);
    if (ls) {
      auto d = diff(*ls, *ls);
      if (!d.empty()) __builtin_trap();  // a set compared with itself has no changes
      for (const auto& l : *ls) (void)is_loopback_host(l.bind_host);
    }
  }
  // The same bytes as one command-line rule (first line only).
  auto line = text.substr(0, text.find('\n'));
  auto r = parse_rule_arg(line, Proto::tcp, {});
  if (r) (void)expand({*r});
  return 0;
}
