#include "diag/nft_eval.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace porthole::diag {

namespace {

using json = nlohmann::json;

enum class Tri : std::uint8_t { no, maybe, yes };

const json* field(const json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

std::string str(const json* j) {
  return j && j->is_string() ? j->get<std::string>() : std::string();
}

struct ChainKey {
  std::string family, table, name;
  auto operator<=>(const ChainKey&) const = default;
};

struct Chain {
  std::string hook, type, policy;
  long prio = 0;
  std::vector<const json*> rules;
};

struct Ctx {
  std::uint16_t port;
  std::map<ChainKey, Chain> chains;
  std::map<std::pair<std::string, std::string>, const json*> sets;  // (table, name) -> set
};

// Does `value` (an nft JSON right-hand side) contain `want` (a port number or a word)?
Tri contains(const Ctx& c, const std::string& table, const json& value, const json& want, int depth = 0) {
  if (depth > 8) return Tri::maybe;
  if (value == want) return Tri::yes;
  if (value.is_string() && value.get<std::string>().starts_with("@")) {
    auto it = c.sets.find({table, value.get<std::string>().substr(1)});
    if (it == c.sets.end()) return Tri::maybe;
    const json* elems = field(*it->second, "elem");
    return elems ? contains(c, table, json{{"set", *elems}}, want, depth + 1) : Tri::no;
  }
  if (const json* range = field(value, "range"); range && range->is_array() && range->size() == 2) {
    const auto& lo = (*range)[0];
    const auto& hi = (*range)[1];
    if (!lo.is_number() || !hi.is_number() || !want.is_number()) return Tri::maybe;
    return lo <= want && want <= hi ? Tri::yes : Tri::no;
  }
  const json* set = field(value, "set");
  if (!set && value.is_array()) set = &value;
  if (set) {
    if (!set->is_array()) return contains(c, table, *set, want, depth + 1);
    Tri best = Tri::no;
    for (const auto& e : *set) {
      const json* inner = field(e, "elem");
      const json* val = inner ? field(*inner, "val") : &e;
      best = std::max(best, val ? contains(c, table, *val, want, depth + 1) : Tri::maybe);
    }
    return best;
  }
  if (value.is_object()) return Tri::maybe;  // prefixes, concatenations, maps: not understood
  return Tri::no;
}

// One "match" expression against a new TCP connection to c.port arriving from outside.
Tri eval_match(const Ctx& c, const std::string& table, const json& m) {
  const json* left = field(m, "left");
  const json* right = field(m, "right");
  if (!left || !right) return Tri::maybe;
  std::string op = str(field(m, "op"));
  Tri t = Tri::maybe;
  if (const json* p = field(*left, "payload")) {
    std::string proto = str(field(*p, "protocol"));
    std::string fld = str(field(*p, "field"));
    if ((proto == "tcp" || proto == "th") && fld == "dport") {
      t = contains(c, table, *right, json(c.port));
    } else if (proto == "udp" || proto == "sctp" || proto == "icmp" || proto == "icmpv6" || proto == "ip6") {
      t = Tri::no;  // a TCP/IPv4 packet never matches another protocol's header fields
    }
  } else if (const json* meta = field(*left, "meta")) {
    std::string key = str(field(*meta, "key"));
    if (key == "l4proto") {
      t = contains(c, table, *right, json("tcp"));
    } else if (key == "iifname" || key == "iif") {
      t = contains(c, table, *right, json("lo")) == Tri::yes ? Tri::no : Tri::maybe;
    }
  } else if (const json* ct = field(*left, "ct"); ct && str(field(*ct, "key")) == "state") {
    t = contains(c, table, *right, json("new"));
  }
  if (op == "!=" && t != Tri::maybe) t = t == Tri::yes ? Tri::no : Tri::yes;
  return t;
}

struct Outcome {
  enum Kind : std::uint8_t { cont, accept, drop } kind = cont;
  bool certain = true;
  std::string where, rule;
};

std::string rule_text(const json& rule) {
  std::vector<std::string> parts;
  if (const json* expr = field(rule, "expr"); expr && expr->is_array()) {
    for (const auto& e : *expr) {
      if (const json* m = field(e, "match")) {
        const json* l = field(*m, "left");
        const json* r = field(*m, "right");
        parts.push_back(
            fmt::format("{} {} {}", l ? l->dump() : "?", str(field(*m, "op")), r ? r->dump() : "?"));
      } else if (e.is_object() && !e.empty()) {
        parts.push_back(e.begin().key());
      }
    }
  }
  const json* h = field(rule, "handle");
  return fmt::format("{} (handle {})", fmt::join(parts, " "), h ? h->dump() : "?");
}

std::string where_text(const ChainKey& k) {
  return fmt::format("table {} {} chain {}", k.family, k.table, k.name);
}

Outcome run_chain(const Ctx& c, const ChainKey& key, int depth);

// Evaluates one rule: its matches, then its verdict statement.
Outcome run_rule(const Ctx& c, const ChainKey& key, const json& rule, int depth) {
  Tri matched = Tri::yes;
  bool unsure = false;  // a jump whose chain may have accepted
  const json* expr = field(rule, "expr");
  if (!expr || !expr->is_array()) return {};
  for (const auto& e : *expr) {
    if (!e.is_object() || e.empty()) continue;
    const std::string& k = e.begin().key();
    if (k == "match") {
      matched = std::min(matched, eval_match(c, key.table, e.begin().value()));
    } else if (k == "xt" || k == "limit" || k == "quota" || k == "meter") {
      matched = std::min(matched, Tri::maybe);
    } else if (k == "accept" || k == "drop" || k == "reject") {
      return Outcome{k == "accept" ? Outcome::accept : Outcome::drop, matched == Tri::yes, where_text(key),
                     rule_text(rule)};
    } else if ((k == "jump" || k == "goto") && depth < 16) {
      auto o =
          run_chain(c, ChainKey{key.family, key.table, str(field(e.begin().value(), "target"))}, depth + 1);
      if (matched == Tri::maybe) o.certain = false;
      if (o.kind != Outcome::cont || k == "goto") return o;
      if (!o.certain) unsure = true;
    } else if (k == "return") {
      return Outcome{Outcome::cont, matched == Tri::yes && !unsure, "", ""};
    }
    if (matched == Tri::no) return {};
  }
  return Outcome{Outcome::cont, !unsure, "", ""};
}

Outcome run_chain(const Ctx& c, const ChainKey& key, int depth) {
  auto it = c.chains.find(key);
  if (it == c.chains.end()) return {};
  std::optional<Outcome> maybe_drop;
  bool uncertain = false;  // an earlier rule may have accepted
  for (const json* rule : it->second.rules) {
    auto o = run_rule(c, key, *rule, depth);
    if (o.kind == Outcome::cont) {
      if (!o.certain) uncertain = true;
      continue;
    }
    if (o.kind == Outcome::accept) {
      if (maybe_drop) return *maybe_drop;
      if (o.certain) return o;
      uncertain = true;
      continue;
    }
    if (o.certain && !uncertain) return o;
    if (o.certain) {
      o.certain = false;  // dropped unless an earlier rule accepted
      return o;
    }
    if (!maybe_drop) maybe_drop = o;
  }
  if (maybe_drop) return *maybe_drop;
  return Outcome{Outcome::cont, !uncertain, "", ""};
}

void index_ruleset(const json& items, Ctx& c) {
  for (const auto& item : items) {
    if (const json* ch = field(item, "chain")) {
      Chain& chain = c.chains[{str(field(*ch, "family")), str(field(*ch, "table")), str(field(*ch, "name"))}];
      chain.hook = str(field(*ch, "hook"));
      chain.type = str(field(*ch, "type"));
      chain.policy = str(field(*ch, "policy"));
      if (const json* p = field(*ch, "prio"); p && p->is_number_integer()) chain.prio = p->get<long>();
    } else if (const json* rule = field(item, "rule")) {
      c.chains[{str(field(*rule, "family")), str(field(*rule, "table")), str(field(*rule, "chain"))}]
          .rules.push_back(rule);
    } else if (const json* set = field(item, "set")) {
      c.sets[{str(field(*set, "table")), str(field(*set, "name"))}] = set;
    }
  }
}

}  // namespace

Result<FirewallFact> evaluate_nft_ruleset(std::string_view json_text, std::uint16_t port) {
  json doc = json::parse(json_text, nullptr, false);
  const json* items = doc.is_discarded() ? nullptr : field(doc, "nftables");
  if (!items || !items->is_array()) return make_error("nftables: unexpected JSON output");
  Ctx c{port, {}, {}};
  index_ruleset(*items, c);
  std::vector<std::pair<ChainKey, const Chain*>> bases;
  for (const auto& [key, chain] : c.chains) {
    if (chain.hook == "input" && chain.type == "filter" && (key.family == "inet" || key.family == "ip")) {
      bases.emplace_back(key, &chain);
    }
  }
  std::stable_sort(bases.begin(), bases.end(),
                   [](const auto& a, const auto& b) { return a.second->prio < b.second->prio; });
  FirewallFact fact;
  for (const auto& [key, chain] : bases) {
    auto o = run_chain(c, key, 0);
    if (o.kind == Outcome::cont && chain->policy == "drop")
      o = Outcome{Outcome::drop, o.certain, where_text(key), ""};
    if (o.kind == Outcome::drop) {
      fact = FirewallFact{o.certain ? FirewallVerdict::blocked : FirewallVerdict::maybe_blocked, o.where,
                          o.rule};
      if (o.certain) return fact;
    } else if (o.kind == Outcome::accept && fact.where.empty()) {
      fact.where = "accepted in " + o.where + " by " + o.rule;
    }
  }
  if (bases.empty()) fact.where = "no nftables input chain: nothing filters incoming connections";
  return fact;
}

}  // namespace porthole::diag
