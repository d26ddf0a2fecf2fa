// The policy's TOML form (docs/policy.md): every rule checked and compiled (conditions in
// conditions_codec.cpp, actions in actions_codec.cpp, the strict table reader in reader.hpp),
// every problem reported with its line and key path.
#include <sstream>

#include "policy/codec.hpp"
#include "policy/jwt_action.hpp"
#include "policy/oidc.hpp"
#include "policy/reader.hpp"

namespace porthole::policy {

namespace {

using namespace detail;

void read_rules(Tab& root, Phase phase, Policy& p) {
  const auto key = kPhaseNames[static_cast<int>(phase)];
  auto& rules = p.phases[static_cast<int>(phase)];
  each_table(root, key, [&](const toml::table& tbl, const std::string& path) {
    Tab t(tbl, path, root.out());
    Rule r;
    r.line = t.line();
    if (t.str("name", r.name, true) && (r.name.empty() || r.name.size() > 128 || !safe_value(r.name))) {
      t.problem_at(t.take("name"), "name", "1..128 characters, no CR/LF");
    }
    for (const auto& other : rules) {
      if (!r.name.empty() && other.name == r.name) {
        t.problem_at(t.take("name"), "name",
                     fmt::format("duplicate rule name '{}' (line {})", r.name, other.line));
      }
    }
    t.boolean("continue", r.continue_after);
    if (const auto* w = t.take("when")) {
      if (const auto* wt = w->as_table()) {
        read_when(*wt, t.path("when"), phase, root.out(), r.when);
      } else {
        t.problem_at(w, "when", fmt::format("expected a table of conditions, got {}", type_name(*w)));
      }
    }
    const std::size_t before = root.out().size();
    each_table(t, "actions", [&](const toml::table& at, const std::string& apath) {
      read_action(at, apath, phase, root.out(), r.actions);
    });
    if (!t.has("actions") && before == root.out().size())
      t.problem_at(nullptr, "actions", "missing (a rule needs actions)");
    t.finish();
    if (rules.size() >= kMaxRules) {
      t.problem_at(nullptr, "name", fmt::format("more than {} rules in {}", kMaxRules, key));
      return;
    }
    rules.push_back(std::move(r));
  });
}

}  // namespace

std::shared_ptr<Policy> read_policy(const toml::table& t, std::string_view prefix,
                                    std::vector<Problem>& problems) {
  auto p = std::make_shared<Policy>();
  Tab root(t, std::string(prefix), problems);
  std::int64_t version = 1;
  root.integer("version", version, 1, 1);
  for (int i = 0; i < 3; ++i) read_rules(root, static_cast<Phase>(i), *p);
  for (const auto& r : p->rules(Phase::http_request)) {
    for (const auto& a : r.actions) p->needs_body = p->needs_body || a.kind == Action::Kind::verify_webhook;
    for (const auto& a : r.actions) {
      if (a.oidc) p->protected_headers.push_back(a.oidc->email_header);  // the identity: only the relay sets it
      if (!a.jwt) continue;
      for (const auto& f : a.jwt->forward) p->protected_headers.push_back(f.header);  // visitors cannot send them
    }
  }
  root.finish();
  std::ostringstream os;
  os << toml::toml_formatter(t, toml::format_flags::none);
  p->canonical = os.str();
  if (p->canonical.size() > kMaxDocument) {
    problems.push_back({line_of(t), std::string(prefix),
                        fmt::format("the policy is larger than {} KiB", kMaxDocument / 1024)});
  }
  return p;
}

}  // namespace porthole::policy
