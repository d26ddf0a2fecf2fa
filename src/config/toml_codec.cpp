#include "config/toml_codec.hpp"
#include "policy/codec.hpp"

#include <algorithm>

#include "config/config.hpp"

namespace porthole::config::detail {

namespace {

// Levenshtein distance, for "did you mean" on unknown keys (keys are short).
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// A key as shown in messages: printable ASCII only, at most 64 characters.
std::string shown(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 64)) {
    auto u = static_cast<unsigned char>(c);
    out.push_back(u < 0x20 || u >= 0x7f ? '?' : c);
  }
  if (text.size() > 64) out += "...";
  return out;
}

}  // namespace

void Problems::add(std::uint32_t line, std::string_view key, std::string_view problem) {
  std::string text = key.empty() ? fmt::format("{}:{}: {}", source_, line, problem)
                                 : fmt::format("{}:{}: {}: {}", source_, line, key, problem);
  items_.push_back(Item{line, std::move(text)});
}

Error Problems::to_error() const {
  std::vector<Item> sorted = items_;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const Item& a, const Item& b) { return a.line < b.line; });
  std::string msg;
  for (const auto& item : sorted) {
    if (!msg.empty()) msg += '\n';
    msg += item.text;
  }
  return Error{std::move(msg)};
}

std::uint32_t line_of(const toml::node& n) {
  auto line = n.source().begin.line;
  return line == 0 ? 1 : line;
}

std::string_view type_name(const toml::node& n) { return policy::toml_type_name(n); }

toml::table parse_toml(std::string_view text, Problems& problems, bool& syntax_ok) {
  syntax_ok = guard_toml_text(text, problems);
  if (!syntax_ok) return toml::table{};
  auto result = toml::parse(text, problems.source());
  syntax_ok = static_cast<bool>(result);
  if (!result) {
    const auto& err = result.error();
    auto line = err.source().begin.line == 0 ? 1 : err.source().begin.line;
    problems.add(
        line, "",
        fmt::format("TOML syntax error: {} (column {})", err.description(), err.source().begin.column));
    return toml::table{};
  }
  return std::move(result).table();
}

bool check_version(TableReader& root) {
  const toml::node* n = root.take("version");
  if (n == nullptr) {
    root.problems().add(1, "version", "missing (add `version = 1` at the top of the file)");
    return true;
  }
  const auto* v = n->as_integer();
  if (v == nullptr) {
    root.problem("version", fmt::format("expected an integer, got {}", type_name(*n)));
    return true;
  }
  if (v->get() != kVersion) {
    root.problem("version",
                 fmt::format("unsupported version {} (this porthole reads version {})", v->get(), kVersion));
    return false;
  }
  return true;
}

TableReader::TableReader(const toml::table& table, std::string prefix, Problems& problems)
    : table_(table), prefix_(std::move(prefix)), problems_(problems) {}

std::string TableReader::key_path(std::string_view key) const {
  return prefix_.empty() ? std::string(key) : fmt::format("{}.{}", prefix_, key);
}

const toml::node* TableReader::take(std::string_view key) {
  if (std::find(known_.begin(), known_.end(), key) == known_.end()) known_.emplace_back(key);
  return table_.get(key);
}

std::uint32_t TableReader::line_of_key(std::string_view key) const {
  for (auto&& [k, v] : table_) {
    if (k.str() == key) {
      auto line = k.source().begin.line;
      return line != 0 ? line : line_of(v);
    }
  }
  return line();
}

void TableReader::problem(std::string_view key, std::string_view text) {
  problems_.add(line_of_key(key), key_path(key), text);
}

bool TableReader::check_string(std::string_view key, std::string_view raw, std::string& out,
                               const StringCheck& check) {
  if (!check) {
    out = std::string(raw);
    return true;
  }
  auto r = check(raw);
  if (!r) {
    problem(key, r.error().message);
    return false;
  }
  out = std::move(r).value();
  return true;
}

bool TableReader::string(std::string_view key, std::string& out, const StringCheck& check) {
  const toml::node* n = take(key);
  if (n == nullptr) return false;
  const auto* s = n->as_string();
  if (s == nullptr) {
    problem(key, fmt::format("expected a string, got {}", type_name(*n)));
    return false;
  }
  return check_string(key, s->get(), out, check);
}

bool TableReader::string_or_int(std::string_view key, std::string& out, const StringCheck& check) {
  const toml::node* n = take(key);
  if (n == nullptr) return false;
  if (const auto* i = n->as_integer()) return check_string(key, std::to_string(i->get()), out, check);
  const auto* s = n->as_string();
  if (s == nullptr) {
    problem(key, fmt::format("expected a string or an integer, got {}", type_name(*n)));
    return false;
  }
  return check_string(key, s->get(), out, check);
}

bool TableReader::boolean(std::string_view key, bool& out) {
  const toml::node* n = take(key);
  if (n == nullptr) return false;
  const auto* b = n->as_boolean();
  if (b == nullptr) {
    problem(key, fmt::format("expected true or false, got {}", type_name(*n)));
    return false;
  }
  out = b->get();
  return true;
}

bool TableReader::integer(std::string_view key, std::int64_t& out, std::int64_t lo, std::int64_t hi) {
  const toml::node* n = take(key);
  if (n == nullptr) return false;
  const auto* i = n->as_integer();
  if (i == nullptr) {
    problem(key, fmt::format("expected an integer, got {}", type_name(*n)));
    return false;
  }
  if (i->get() < lo || i->get() > hi) {
    problem(key, fmt::format("{} is out of range ({}..{})", i->get(), lo, hi));
    return false;
  }
  out = i->get();
  return true;
}

bool TableReader::seconds(std::string_view key, std::chrono::seconds& out, std::chrono::seconds lo,
                          std::chrono::seconds hi) {
  const toml::node* n = take(key);
  if (n == nullptr) return false;
  std::chrono::milliseconds ms{};
  if (const auto* i = n->as_integer()) {
    if (i->get() < 0 || i->get() > hi.count()) {
      problem(key, fmt::format("{}s is out of range ({}s..{}s)", i->get(), lo.count(), hi.count()));
      return false;
    }
    ms = std::chrono::seconds(i->get());
  } else if (const auto* s = n->as_string()) {
    auto d = parse_duration(s->get());
    if (!d) {
      problem(key, d.error().message);
      return false;
    }
    ms = *d;
  } else {
    problem(key, fmt::format("expected a duration like \"10s\" or an integer, got {}", type_name(*n)));
    return false;
  }
  if (ms.count() % 1000 != 0) {
    problem(key, fmt::format("{}ms is not a whole number of seconds", ms.count()));
    return false;
  }
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(ms);
  if (secs < lo || secs > hi) {
    problem(key, fmt::format("{}s is out of range ({}s..{}s)", secs.count(), lo.count(), hi.count()));
    return false;
  }
  out = secs;
  return true;
}

bool TableReader::port_range(std::string_view key, PortRange& out) {
  const toml::node* n = take(key);
  if (n == nullptr) return false;
  Result<PortRange> r = make_error("unset");
  if (const auto* i = n->as_integer()) {
    r = i->get() >= 1 && i->get() <= 65535 ? parse_port_range(std::to_string(i->get()))
                                           : Result<PortRange>(make_error("invalid port {}", i->get()));
  } else if (const auto* s = n->as_string()) {
    r = parse_port_range(s->get());
  } else {
    problem(key, fmt::format("expected a port range like \"20000-29999\", got {}", type_name(*n)));
    return false;
  }
  if (!r) {
    problem(key, r.error().message);
    return false;
  }
  out = *r;
  return true;
}

bool TableReader::string_array(std::string_view key, std::vector<std::string>& out,
                               const StringCheck& check) {
  const toml::node* n = take(key);
  if (n == nullptr) return false;
  const auto* arr = n->as_array();
  if (arr == nullptr) {
    problem(key, fmt::format("expected an array of strings, got {}", type_name(*n)));
    return false;
  }
  std::vector<std::string> values;
  bool ok = true;
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const toml::node& item = *arr->get(i);
    std::string path = fmt::format("{}[{}]", key_path(key), i);
    const auto* s = item.as_string();
    Result<std::string> r =
        s == nullptr ? Result<std::string>(make_error("expected a string, got {}", type_name(item)))
        : check      ? check(s->get())
                     : Result<std::string>(std::string(s->get()));
    if (!r) {
      problems_.add(line_of(item), path, r.error().message);
      ok = false;
      continue;
    }
    values.push_back(std::move(r).value());
  }
  if (ok) out = std::move(values);
  return ok;
}

void TableReader::finish() {
  for (auto&& [k, v] : table_) {
    std::string_view name = k.str();
    if (std::find(known_.begin(), known_.end(), name) != known_.end()) continue;
    std::string hint;
    for (const auto& known : known_) {
      if (edit_distance(name, known) <= 2) {
        hint = fmt::format(" (did you mean '{}'?)", known);
        break;
      }
    }
    auto line = k.source().begin.line != 0 ? k.source().begin.line : line_of(v);
    problems_.add(line, key_path(shown(name)), fmt::format("unknown key{}", hint));
  }
}

}  // namespace porthole::config::detail
