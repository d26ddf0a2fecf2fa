// The policy codec's shared reader parts (internal to src/policy): a strict reader over one TOML
// table that reports unknown keys and wrong types with line and key path, and the small checks
// the condition and action readers share. policy_codec.cpp reads rules; conditions_codec.cpp
// reads `when`; actions_codec.cpp reads actions (the action-kind table lives there).
#pragma once

#include <fmt/format.h>
#include <re2/re2.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "policy/codec.hpp"

namespace porthole::policy::detail {

inline std::uint32_t line_of(const toml::node& n) {
  return n.source().begin.line;
}

inline std::string_view type_name(const toml::node& n) { return toml_type_name(n); }

inline constexpr std::size_t kMaxRules = 256;
inline constexpr std::size_t kMaxText = 16 * 1024;
inline constexpr std::size_t kMaxDocument = 48 * 1024;  // canonical form: it must fit a Bind (64 KiB frames)

// A strict reader over one table: keys asked for are known; the rest are reported.
class Tab {
 public:
  Tab(const toml::table& t, std::string prefix, std::vector<Problem>& out)
      : t_(t), prefix_(std::move(prefix)), out_(out) {}
  std::string path(std::string_view key) const {
    return prefix_.empty() ? std::string(key) : fmt::format("{}.{}", prefix_, key);
  }
  const toml::node* take(std::string_view key) {
    known_.emplace_back(key);
    return t_.get(key);
  }
  void problem_at(const toml::node* n, std::string_view key, std::string text) {
    out_.push_back({n ? line_of(*n) : line_of(t_), path(key), std::move(text)});
  }
  bool has(std::string_view key) const { return t_.contains(key); }
  const toml::table& table() const { return t_; }
  std::uint32_t line() const { return line_of(t_); }
  std::vector<Problem>& out() { return out_; }
  const std::string& prefix() const { return prefix_; }

  bool str(std::string_view key, std::string& v, bool required = false) {
    const auto* n = take(key);
    if (n == nullptr) {
      if (required) problem_at(nullptr, key, "missing");
      return false;
    }
    if (!n->is_string()) {
      problem_at(n, key, fmt::format("expected a string, got {}", type_name(*n)));
      return false;
    }
    v = n->as_string()->get();
    if (v.size() > kMaxText) {
      problem_at(n, key, "too long");
      return false;
    }
    return true;
  }
  // A string or an array of strings.
  bool strs(std::string_view key, std::vector<std::string>& v) {
    const auto* n = take(key);
    if (n == nullptr) return false;
    if (n->is_string()) {
      v.push_back(n->as_string()->get());
      return true;
    }
    const auto* a = n->as_array();
    if (a == nullptr || a->empty()) {
      problem_at(
          n, key,
          a ? "empty list" : fmt::format("expected a string or a list of strings, got {}", type_name(*n)));
      return false;
    }
    for (const auto& e : *a) {
      if (!e.is_string()) {
        problem_at(&e, key, fmt::format("expected strings in the list, got {}", type_name(e)));
        return false;
      }
      v.push_back(e.as_string()->get());
    }
    return true;
  }
  bool integer(std::string_view key, std::int64_t& v, std::int64_t lo, std::int64_t hi) {
    const auto* n = take(key);
    if (n == nullptr) return false;
    if (!n->is_integer()) {
      problem_at(n, key, fmt::format("expected an integer, got {}", type_name(*n)));
      return false;
    }
    const auto x = n->as_integer()->get();
    if (x < lo || x > hi) {
      problem_at(n, key, fmt::format("{} is out of range {}..{}", x, lo, hi));
      return false;
    }
    v = x;
    return true;
  }
  bool boolean(std::string_view key, bool& v) {
    const auto* n = take(key);
    if (n == nullptr) return false;
    if (!n->is_boolean()) {
      problem_at(n, key, fmt::format("expected true or false, got {}", type_name(*n)));
      return false;
    }
    v = n->as_boolean()->get();
    return true;
  }
  void finish() {
    for (const auto& [k, n] : t_) {
      bool ok = false;
      for (const auto& x : known_) ok = ok || x == k.str();
      if (!ok) out_.push_back({line_of(n), path(k.str()), "unknown key"});
    }
  }

 private:
  const toml::table& t_;
  std::string prefix_;
  std::vector<Problem>& out_;
  std::vector<std::string> known_;
};

// An array of tables (or one table) under `key`: calls f(table, path) for each.
template <class F>
void each_table(Tab& t, std::string_view key, F f) {
  const auto* n = t.take(key);
  if (n == nullptr) return;
  if (const auto* tbl = n->as_table()) {
    f(*tbl, t.path(key));
    return;
  }
  const auto* a = n->as_array();
  if (a == nullptr) {
    t.problem_at(n, key, fmt::format("expected a table or a list of tables, got {}", type_name(*n)));
    return;
  }
  for (std::size_t i = 0; i < a->size(); ++i) {
    const auto* e = a->get(i)->as_table();
    if (e == nullptr) {
      t.problem_at(a->get(i), key, fmt::format("expected tables in the list, got {}", type_name(*a->get(i))));
      continue;
    }
    f(*e, fmt::format("{}[{}]", t.path(key), i));
  }
}

std::shared_ptr<const re2::RE2> compile_re(Tab& t, std::string_view key, const std::string& pattern);
bool is_token(std::string_view s);
// Fields a policy may not add or remove: they frame the message or route it.
bool reserved_field(std::string_view s);
bool safe_value(std::string_view s);  // no CR, LF or NUL
void read_header_table(Tab& t, std::string_view key, std::vector<Header>& out);

// The `when` table of a rule (conditions_codec.cpp) and one action (actions_codec.cpp).
void read_when(const toml::table& tbl, const std::string& path, Phase phase, std::vector<Problem>& probs,
               std::vector<Condition>& out);
void read_action(const toml::table& tbl, const std::string& path, Phase phase, std::vector<Problem>& probs,
                 std::vector<Action>& out);

}  // namespace porthole::policy::detail
