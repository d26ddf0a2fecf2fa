// porthole token create|list|revoke: agent tokens in the relay's data dir (DATA/relay.db).
// The secret is printed once by `create` and never stored; the relay keeps only a hash.
#include <ctime>
#include <iostream>
#include <memory>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "app/commands.hpp"
#include "config/model.hpp"
#include "relay/store.hpp"

namespace porthole::app {
namespace {

struct TokenArgs {
  std::string data_dir = config::RelayConfig{}.data_dir;
  std::string name;
  std::string allow_subdomain, allow_port, allow_private;
  bool json = false;
};

std::string format_time(std::int64_t unix_s) {
  std::time_t t = static_cast<std::time_t>(unix_s);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

int create(const TokenArgs& a) {
  if (auto r = relay::validate_token_name(a.name); !r) {
    std::cerr << "porthole token create: " << r.error().message << "\n";
    return 2;
  }
  auto scopes = relay::parse_scopes(a.allow_subdomain, a.allow_port, a.allow_private);
  if (!scopes) {
    std::cerr << "porthole token create: " << scopes.error().message << "\n";
    return 2;
  }
  auto store = relay::Store::open(a.data_dir);
  if (!store) {
    std::cerr << "porthole token create: " << store.error().message << "\n";
    return 1;
  }
  auto token = (*store)->create_token(a.name, *scopes);
  if (!token) {
    std::cerr << "porthole token create: " << token.error().message << "\n";
    return 1;
  }
  (*store)->audit("token.create", fmt::format("name={} id={} scopes={} via=cli", a.name,
                                              proto::token_id(*token), relay::describe(*scopes)));
  std::cout << *token << "\n" << std::flush;
  std::cerr << fmt::format(
      "created token '{}' (id {}, allows: {}) in {}.\n"
      "This is the only time it is shown: store it now. Agents use it with --token or PORTHOLE_TOKEN;\n"
      "a running relay accepts it at once. Revoke it with: porthole token revoke {}\n",
      a.name, proto::token_id(*token), relay::describe(*scopes), a.data_dir, a.name);
  return 0;
}

nlohmann::json to_json(const relay::TokenRecord& t) {
  nlohmann::json j = {{"name", t.name},
                      {"id", t.id},
                      {"allow_subdomain", t.scopes.allow_subdomain},
                      {"allow_port", relay::format_port_scope(t.scopes.allow_port)},
                      {"allow_private", t.scopes.allow_private},
                      {"created_at", format_time(t.created_at)},
                      {"revoked_at", nullptr}};
  if (t.revoked_at) j["revoked_at"] = format_time(*t.revoked_at);
  return j;
}

int list(const TokenArgs& a) {
  auto store = relay::Store::open(a.data_dir, /*create=*/false);
  if (!store) {
    std::cerr << "porthole token list: " << store.error().message << "\n";
    return 1;
  }
  auto tokens = (*store)->list_tokens();
  if (a.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& t : tokens) arr.push_back(to_json(t));
    std::cout << nlohmann::json{{"tokens", arr}}.dump(2) << "\n";
    return 0;
  }
  if (tokens.empty()) {
    std::cerr << "no tokens in " << a.data_dir << " (create one with: porthole token create NAME)\n";
    return 0;
  }
  std::cout << fmt::format("{:<24} {:<16} {:<20} {:<21} {}\n", "NAME", "ID", "CREATED", "STATUS", "ALLOWS");
  for (const auto& t : tokens) {
    std::string status = t.revoked_at ? "revoked " + format_time(*t.revoked_at).substr(0, 10) : "active";
    std::cout << fmt::format("{:<24} {:<16} {:<20} {:<21} {}\n", t.name, t.id, format_time(t.created_at),
                             status, relay::describe(t.scopes));
  }
  return 0;
}

int revoke(const TokenArgs& a) {
  auto store = relay::Store::open(a.data_dir, /*create=*/false);
  if (!store) {
    std::cerr << "porthole token revoke: " << store.error().message << "\n";
    return 1;
  }
  if (auto r = (*store)->revoke_token(a.name); !r) {
    std::cerr << "porthole token revoke: " << r.error().message << " in " << a.data_dir << "\n";
    return 1;
  }
  (*store)->audit("token.revoke", fmt::format("name={} via=cli", a.name));
  std::cerr << "revoked token '" << a.name << "'; agents using it are refused from their next connection\n";
  return 0;
}

void add_data_option(CLI::App* sub, TokenArgs& a) {
  sub->add_option("--data", a.data_dir, "relay data dir holding relay.db")->capture_default_str();
}

}  // namespace

void add_token(CLI::App& app, Run& run) {
  auto args = std::make_shared<TokenArgs>();
  auto* sub = app.add_subcommand("token", "Manage agent tokens on the relay host (in the relay's data dir)");
  sub->require_subcommand(1);

  auto* c =
      sub->add_subcommand("create", "Create a token; prints it once on stdout (it is stored only hashed)");
  c->add_option("NAME", args->name, "token name (letters, digits, - _ .)")->required();
  c->add_option("--allow-subdomain", args->allow_subdomain,
                "HTTP subdomains it may claim (glob list, e.g. 'app-*')");
  c->add_option("--allow-port", args->allow_port, "public ports it may get, LO-HI");
  c->add_option("--allow-private", args->allow_private, "private names it may register (glob list)");
  add_data_option(c, *args);
  c->callback([&run, args] { run = [args] { return create(*args); }; });

  auto* l = sub->add_subcommand("list", "List tokens (names, ids, scopes; never the secrets)");
  l->add_flag("--json", args->json, "print JSON");
  add_data_option(l, *args);
  l->callback([&run, args] { run = [args] { return list(*args); }; });

  auto* r = sub->add_subcommand("revoke", "Revoke a token: agents using it are refused");
  r->add_option("NAME", args->name, "token name")->required();
  add_data_option(r, *args);
  r->callback([&run, args] { run = [args] { return revoke(*args); }; });
}

}  // namespace porthole::app
