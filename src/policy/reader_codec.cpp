// The shared reader checks (reader.hpp).
#include <algorithm>
#include <cctype>

#include "policy/reader.hpp"

namespace porthole::policy {

std::string_view toml_type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    default:
      return "nothing";
  }
}

namespace detail {

std::shared_ptr<const re2::RE2> compile_re(Tab& t, std::string_view key, const std::string& pattern) {
  RE2::Options o;
  o.set_log_errors(false);
  o.set_max_mem(1 << 20);
  auto re = std::make_shared<re2::RE2>(pattern, o);
  if (!re->ok()) {
    t.problem_at(t.take(key), key, fmt::format("bad regular expression: {}", re->error()));
    return nullptr;
  }
  return re;
}

bool is_token(std::string_view s) {
  if (s.empty() || s.size() > 256) return false;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) == 0 && std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos)
      return false;
  }
  return true;
}
bool reserved_field(std::string_view s) {
  static constexpr std::string_view names[] = {"content-length", "transfer-encoding", "host",
                                               "connection",     "upgrade",           "te",
                                               "trailer",        "keep-alive",        "proxy-connection"};
  for (auto n : names) {
    if (n.size() == s.size() && std::equal(n.begin(), n.end(), s.begin(), [](char a, char b) {
          return a == std::tolower(static_cast<unsigned char>(b));
        })) {
      return true;
    }
  }
  return false;
}
bool safe_value(std::string_view s) {
  for (char c : s) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

void read_header_table(Tab& t, std::string_view key, std::vector<Header>& out) {
  const auto* n = t.take(key);
  if (n == nullptr) return;
  const auto* tbl = n->as_table();
  if (tbl == nullptr) {
    t.problem_at(n, key, "expected a table of NAME = \"value\"");
    return;
  }
  for (const auto& [k, v] : *tbl) {
    if (!is_token(k.str()) || reserved_field(k.str())) {
      t.problem_at(&v, key, fmt::format("'{}' is not a header field a policy may set", k.str()));
    } else if (!v.is_string() || !safe_value(v.as_string()->get())) {
      t.problem_at(&v, key, fmt::format("{}: expected a string without CR/LF", k.str()));
    } else {
      out.push_back({std::string(k.str()), v.as_string()->get()});
    }
  }
}

}  // namespace detail
}  // namespace porthole::policy
