// `jwks_file` in a policy file's jwt actions: read where the policy file is (the agent, or
// `porthole policy test`; the file I/O is the caller's FileReader, load.cpp) and put into the
// document as `jwks`, so the relay — which never reads files an agent names — gets the keys
// themselves in the Bind.
#include "config/policy_file.hpp"
#include "config/toml_codec.hpp"

namespace porthole::config {

namespace {

void inline_action(toml::table& a, const std::string& path, const FileReader& read, detail::Problems& problems) {
  const auto* type = a.get_as<std::string>("type");
  const auto* file = a.get_as<std::string>("jwks_file");
  if (type == nullptr || type->get() != "jwt" || file == nullptr) return;
  auto text = read(file->get());
  if (!text) {
    problems.add(detail::line_of(*a.get("jwks_file")), path + ".jwks_file", text.error().message);
    return;
  }
  a.insert_or_assign("jwks", std::move(*text));
  a.erase("jwks_file");
}

}  // namespace

void inline_jwks_files(toml::table& root, const FileReader& read, detail::Problems& problems) {
  auto* rules = root.get_as<toml::array>("on_http_request");
  if (rules == nullptr) return;
  for (std::size_t i = 0; i < rules->size(); ++i) {
    auto* rule = rules->get_as<toml::table>(i);
    auto* actions = rule ? rule->get_as<toml::array>("actions") : nullptr;
    if (actions == nullptr) continue;
    for (std::size_t j = 0; j < actions->size(); ++j) {
      if (auto* a = actions->get_as<toml::table>(j)) {
        inline_action(*a, fmt::format("on_http_request[{}].actions[{}]", i, j), read, problems);
      }
    }
  }
}

}  // namespace porthole::config
