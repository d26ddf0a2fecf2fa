// A config file of either kind, told apart by its top-level table.
#include "config/codec.hpp"
#include "config/config.hpp"
#include "config/toml_codec.hpp"

namespace porthole::config {

Result<AnyConfig> detail::parse_any_at(std::string_view text, std::string_view source,
                                       std::string_view base_dir) {
  detail::Problems problems{std::string(source), std::string(base_dir)};
  bool syntax_ok = false;
  toml::table root = detail::parse_toml(text, problems, syntax_ok);
  if (!syntax_ok) return problems.to_error();
  AnyConfig any;
  if (root.contains("relay")) {
    any.kind = FileKind::relay;
    detail::read_relay_root(root, problems, any.relay);
  } else if (root.contains("agent") || root.contains("tunnel")) {
    any.kind = FileKind::agent;
    detail::read_agent_root(root, problems, any.agent);
  } else {
    detail::TableReader r(root, "", problems);
    if (detail::check_version(r)) r.finish();
    problems.add(1, "",
                 "neither a relay config ([relay] table) nor an agent config ([agent] table or "
                 "[[tunnel]] blocks)");
  }
  if (!problems.empty()) return problems.to_error();
  return any;
}

Result<AnyConfig> parse_config(std::string_view text, std::string_view source) {
  return detail::parse_any_at(text, source, "");
}

}  // namespace porthole::config
