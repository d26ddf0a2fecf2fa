#include "core/metrics.hpp"

#include <map>
#include <memory>
#include <mutex>

#include <fmt/format.h>

namespace porthole::metrics {
namespace {

struct Entry {
  std::string help;
  bool is_counter = true;
  std::unique_ptr<Counter> c;
  std::unique_ptr<Gauge> g;
};

struct Registry {
  std::mutex mu;
  std::map<std::string, Entry, std::less<>> entries;  // sorted: families stay together
};

Registry& registry() {
  static Registry r;
  return r;
}

std::string_view family(std::string_view name) { return name.substr(0, name.find('{')); }

}  // namespace

Counter& counter(std::string_view name, std::string_view help) {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  auto it = r.entries.find(name);
  if (it == r.entries.end()) {
    it = r.entries.emplace(std::string(name), Entry{std::string(help), true, std::make_unique<Counter>(), nullptr}).first;
  }
  return *it->second.c;
}

Gauge& gauge(std::string_view name, std::string_view help) {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  auto it = r.entries.find(name);
  if (it == r.entries.end()) {
    it = r.entries.emplace(std::string(name), Entry{std::string(help), false, nullptr, std::make_unique<Gauge>()}).first;
  }
  return *it->second.g;
}

std::string render_prometheus() {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  std::string out;
  std::string_view last_family;
  for (const auto& [name, e] : r.entries) {
    auto fam = family(name);
    if (fam != last_family) {
      out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", fam, e.help, fam, e.is_counter ? "counter" : "gauge");
      last_family = fam;
    }
    if (e.is_counter) {
      out += fmt::format("{} {}\n", name, e.c->value());
    } else {
      out += fmt::format("{} {}\n", name, e.g->value());
    }
  }
  return out;
}

}  // namespace porthole::metrics
