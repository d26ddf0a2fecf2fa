// Parse entry points: text -> TOML table -> model, every problem collected.
#include "config/codec.hpp"
#include "config/config.hpp"
#include "config/toml_codec.hpp"

namespace porthole::config {

namespace detail {

namespace {

// Parses `text` and hands the root table to `read(root, problems, config)`.
template <class Config, class Read>
Result<Config> parse_with(std::string_view text, std::string_view source, std::string_view base_dir,
                          Read read) {
  Problems problems{std::string(source), std::string(base_dir)};
  bool syntax_ok = false;
  toml::table root = parse_toml(text, problems, syntax_ok);
  if (!syntax_ok) return problems.to_error();
  Config c;
  read(root, problems, c);
  if (!problems.empty()) return problems.to_error();
  return c;
}

// A file of either kind, told apart by its top-level table.
void read_any_root(const toml::table& root, Problems& problems, AnyConfig& any) {
  if (root.contains("relay") || root.contains("exit")) {  // [exit]: the relay's own exit
    any.kind = FileKind::relay;
    read_relay_root(root, problems, any.relay);
  } else if (root.contains("agent") || root.contains("tunnel")) {
    any.kind = FileKind::agent;
    read_agent_root(root, problems, any.agent);
  } else {
    TableReader r(root, "", problems);
    if (check_version(r)) r.finish();
    problems.add(1, "",
                 "neither a relay config ([relay] or [exit] table) nor an agent config ([agent] table or "
                 "[[tunnel]] blocks)");
  }
}

}  // namespace

Result<RelayConfig> parse_relay_at(std::string_view text, std::string_view source,
                                   std::string_view base_dir) {
  return parse_with<RelayConfig>(text, source, base_dir, read_relay_root);
}

Result<AgentConfig> parse_agent_at(std::string_view text, std::string_view source,
                                   std::string_view base_dir) {
  return parse_with<AgentConfig>(text, source, base_dir, read_agent_root);
}

Result<AnyConfig> parse_any_at(std::string_view text, std::string_view source, std::string_view base_dir) {
  return parse_with<AnyConfig>(text, source, base_dir, read_any_root);
}

}  // namespace detail

Result<RelayConfig> parse_relay_config(std::string_view text, std::string_view source) {
  return detail::parse_relay_at(text, source, "");
}

Result<AgentConfig> parse_agent_config(std::string_view text, std::string_view source) {
  return detail::parse_agent_at(text, source, "");
}

Result<AnyConfig> parse_config(std::string_view text, std::string_view source) {
  return detail::parse_any_at(text, source, "");
}

}  // namespace porthole::config
