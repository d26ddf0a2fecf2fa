// Internal to the config layer: a strict reader over a parsed TOML table. Every key a caller
// asks for is marked known; finish() reports the rest as unknown keys. Problems are collected,
// not thrown, so one run reports all of them ("FILE:LINE: KEY: problem", in file order).
#pragma once

// toml++ is used header-only and without exceptions here, so the parser also builds in the
// stand-alone fuzz build (which links no toml++ library) and never throws on bad input.
#undef TOML_SHARED_LIB
#define TOML_SHARED_LIB 0
#undef TOML_HEADER_ONLY
#define TOML_HEADER_ONLY 1
#undef TOML_EXCEPTIONS
#define TOML_EXCEPTIONS 0
#include <toml++/toml.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "config/model.hpp"
#include "core/address.hpp"
#include "core/result.hpp"

namespace porthole::config::detail {

class Problems {
 public:
  // `base_dir`: relative paths in the file are taken relative to it (empty: left as written).
  explicit Problems(std::string source, std::string base_dir = {})
      : source_(std::move(source)), base_dir_(std::move(base_dir)) {}
  void add(std::uint32_t line, std::string_view key, std::string_view problem);
  bool empty() const { return items_.empty(); }
  std::size_t size() const { return items_.size(); }
  Error to_error() const;  // one problem per line, sorted by line (stable)
  const std::string& source() const { return source_; }
  const std::string& base_dir() const { return base_dir_; }

 private:
  struct Item {
    std::uint32_t line;
    std::string text;
  };
  std::string source_;
  std::string base_dir_;
  std::vector<Item> items_;
};

std::uint32_t line_of(const toml::node& n);
std::string_view type_name(const toml::node& n);

// Refuses the few code points toml++ 3.3 cannot safely classify where it would classify them
// (toml_guard_codec.cpp). False (and a problem recorded) when the text must not be parsed.
bool guard_toml_text(std::string_view text, Problems& problems);

// Parses `text`; on a syntax error records it and returns an empty table.
toml::table parse_toml(std::string_view text, Problems& problems, bool& syntax_ok);

// Checks `version = 1` in the root table (marks the key known). False on an unsupported
// version (other problems are then not worth reporting).
class TableReader;
bool check_version(TableReader& root);

// Validates and normalises a string value; an Error's message becomes the problem text.
using StringCheck = std::function<Result<std::string>(std::string_view)>;

class TableReader {
 public:
  // `prefix` is this table's path for messages ("relay", "tunnel[0]", "" for the root).
  TableReader(const toml::table& table, std::string prefix, Problems& problems);

  const toml::table& table() const { return table_; }
  const std::string& prefix() const { return prefix_; }
  std::string key_path(std::string_view key) const;
  std::uint32_t line() const { return line_of(table_); }
  Problems& problems() { return problems_; }

  // Marks `key` known and returns its node, or nullptr when absent.
  const toml::node* take(std::string_view key);
  void problem(std::string_view key, std::string_view text);  // at the key's line (or table's)
  std::uint32_t line_of_key(std::string_view key) const;

  // Typed readers: leave `out` untouched when the key is absent or invalid (and record why).
  // Each returns true when the key was present and valid.
  bool string(std::string_view key, std::string& out, const StringCheck& check = {});
  bool boolean(std::string_view key, bool& out);
  bool integer(std::string_view key, std::int64_t& out, std::int64_t lo, std::int64_t hi);
  bool seconds(std::string_view key, std::chrono::seconds& out, std::chrono::seconds lo,
               std::chrono::seconds hi);
  bool port_range(std::string_view key, PortRange& out);
  // A string value, or an integer (taken as its decimal text) when `int_ok`.
  bool string_or_int(std::string_view key, std::string& out, const StringCheck& check);
  bool string_array(std::string_view key, std::vector<std::string>& out, const StringCheck& check);

  // Reports every key of the table that no one asked for.
  void finish();

 private:
  bool check_string(std::string_view key, std::string_view raw, std::string& out, const StringCheck& check);

  const toml::table& table_;
  std::string prefix_;
  Problems& problems_;
  std::vector<std::string> known_;
};

// Shared checks for values (return the normalised text or an Error naming the problem).
Result<std::string> check_listen(std::string_view text, std::string_view default_host);
Result<std::string> check_dial(std::string_view text, std::string_view default_host);
Result<std::string> check_non_empty(std::string_view text);
Result<std::string> check_secret(std::string_view text);  // never echoes the value
Result<std::string> check_name(std::string_view text);
Result<std::string> check_domain(std::string_view text);  // lowercased
// One exit allow-list entry (`allow_dest`: the `porthole exit --allow-dest` syntax, dest_check.hpp).
Result<std::string> check_allow_dest(std::string_view text);
// A file path: non-empty; relative ones are resolved against `base_dir` when it is set.
StringCheck check_path(const std::string& base_dir);

// Read a whole parsed file into the model, recording problems (relay_codec / agent_codec).
void read_relay_root(const toml::table& root, Problems& problems, RelayConfig& c);
void read_agent_root(const toml::table& root, Problems& problems, AgentConfig& c);

// heartbeat_interval / heartbeat_timeout (timeout must exceed interval), shared by both files.
void read_heartbeat(TableReader& t, Heartbeat& hb);

}  // namespace porthole::config::detail
