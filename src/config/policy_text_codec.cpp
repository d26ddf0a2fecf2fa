// Policy text → compiled policy (policy/policy_codec.cpp reads the table), with the config
// layer's guarded toml++ parse so a hostile document is refused, never crashes.
#include "config/policy_file.hpp"
#include "config/toml_codec.hpp"
#include "policy/codec.hpp"

namespace porthole::config {

void inline_jwks_files(toml::table& root, const FileReader& read, detail::Problems& problems);  // policy_jwks_codec.cpp

Result<std::shared_ptr<policy::Policy>> parse_policy(std::string_view text, std::string_view source,
                                                     const policy::Sugar* sugar, const FileReader* files) {
  detail::Problems problems{std::string(source)};
  bool syntax_ok = false;
  toml::table root = detail::parse_toml(text, problems, syntax_ok);
  if (!syntax_ok) return problems.to_error();
  if (sugar != nullptr) {
    if (auto r = policy::apply_sugar(root, *sugar); !r) return r.error();
  }
  if (files != nullptr) inline_jwks_files(root, *files, problems);
  std::vector<policy::Problem> found;
  auto p = policy::read_policy(root, "", found);
  for (const auto& f : found) problems.add(f.line, f.key, f.text);
  if (!problems.empty()) return problems.to_error();
  return p;
}

}  // namespace porthole::config
