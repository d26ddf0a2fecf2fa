// porthole token create|list|revoke: agent tokens in the relay's data dir (DATA/relay.db), or
// on a running relay through its admin API with --admin URL (docs/admin-api.md).
// The secret is printed once by `create` and never stored; the relay keeps only a hash.
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <variant>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "app/commands.hpp"
#include "config/model.hpp"
#include "relay/admin_client.hpp"
#include "relay/admin_json.hpp"
#include "relay/store.hpp"

namespace porthole::app {
namespace {

struct TokenArgs {
  std::string data_dir = config::RelayConfig{}.data_dir;
  std::string name;
  std::string allow_subdomain, allow_hostname, allow_port, allow_private, allow_connect, allow_exit;
  std::string admin_url, admin_token;
  bool json = false;
};

int fail(std::string_view cmd, std::string_view message, int status) {
  std::cerr << "porthole token " << cmd << ": " << message << "\n";
  return status;
}

// Where the tokens live, for messages.
std::string where(const TokenArgs& a) {
  return a.admin_url.empty() ? a.data_dir : "the relay at " + a.admin_url;
}

// Sends one admin API call; nullopt (after printing why) when the relay cannot be reached.
std::optional<relay::AdminReply> call_admin(std::string_view cmd, const TokenArgs& a, std::string method,
                                            std::string target, std::string body = {}) {
  auto to = relay::parse_admin_url(a.admin_url);
  if (!to) {
    fail(cmd, to.error().message, 2);
    return std::nullopt;
  }
  auto reply =
      relay::admin_request(*to, {std::move(method), std::move(target), std::move(body), a.admin_token});
  if (!reply) {
    fail(cmd, reply.error().message, 1);
    return std::nullopt;
  }
  if (reply->status == 401) {
    fail(cmd,
         relay::admin_error_text(*reply) + " (give a relay token with --admin-token or PORTHOLE_ADMIN_TOKEN)",
         1);
    return std::nullopt;
  }
  return std::move(*reply);
}

// The secret (from the data dir or the admin API), or the exit status.
std::variant<std::string, int> create_secret(const TokenArgs& a, const relay::Scopes& scopes) {
  if (!a.admin_url.empty()) {
    nlohmann::json body = {{"name", a.name},
                           {"allow_subdomain", a.allow_subdomain},
                           {"allow_hostname", a.allow_hostname},
                           {"allow_port", a.allow_port},
                           {"allow_private", a.allow_private},
                           {"allow_connect", a.allow_connect},
                           {"allow_exit", a.allow_exit}};
    auto reply = call_admin("create", a, "POST", "/api/tokens", body.dump());
    if (!reply) return 1;
    if (reply->status != 201)
      return fail("create", relay::admin_error_text(*reply), reply->status == 400 ? 2 : 1);
    auto j = nlohmann::json::parse(reply->body, nullptr, false);
    if (!j.is_object() || !j.contains("token") || !j["token"].is_string()) {
      return fail("create", "the admin API sent no token", 1);
    }
    return j["token"].get<std::string>();
  }
  auto store = relay::Store::open(a.data_dir);
  if (!store) return fail("create", store.error().message, 1);
  auto token = (*store)->create_token(a.name, scopes);
  if (!token) return fail("create", token.error().message, 1);
  (*store)->audit("token.create", fmt::format("name={} id={} scopes={} via=cli", a.name,
                                              proto::token_id(*token), relay::describe(scopes)));
  return *token;
}

int create(const TokenArgs& a) {
  if (auto r = relay::validate_token_name(a.name); !r) return fail("create", r.error().message, 2);
  auto scopes = relay::parse_scopes(a.allow_subdomain, a.allow_port, a.allow_private, a.allow_hostname,
                                    a.allow_connect, a.allow_exit);
  if (!scopes) return fail("create", scopes.error().message, 2);
  auto secret = create_secret(a, *scopes);
  if (auto* status = std::get_if<int>(&secret)) return *status;
  const auto& token = std::get<std::string>(secret);
  std::cout << token << "\n" << std::flush;
  std::cerr << fmt::format(
      "created token '{}' (id {}, allows: {}) in {}.\n"
      "This is the only time it is shown: store it now. Agents use it with --token or PORTHOLE_TOKEN;\n"
      "a running relay accepts it at once. Revoke it with: porthole token revoke {}\n",
      a.name, proto::token_id(token), relay::describe(*scopes), where(a), a.name);
  return 0;
}

std::string json_string(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Prints the token table from the JSON shape of the admin API.
void print_table(const nlohmann::json& tokens) {
  std::cout << fmt::format("{:<24} {:<16} {:<20} {:<21} {}\n", "NAME", "ID", "CREATED", "STATUS", "ALLOWS");
  for (const auto& t : tokens) {
    auto revoked = json_string(t, "revoked_at");
    std::string status = revoked.empty() ? "active" : "revoked " + revoked.substr(0, 10);
    auto scopes = relay::parse_scopes(json_string(t, "allow_subdomain"), json_string(t, "allow_port"),
                                      json_string(t, "allow_private"), json_string(t, "allow_hostname"),
                                      json_string(t, "allow_connect"), json_string(t, "allow_exit"));
    std::cout << fmt::format("{:<24} {:<16} {:<20} {:<21} {}\n", json_string(t, "name"), json_string(t, "id"),
                             json_string(t, "created_at"), status, scopes ? relay::describe(*scopes) : "?");
  }
}

// {"tokens": [...]} from the data dir or the admin API, or the exit status.
std::variant<nlohmann::json, int> fetch_tokens(const TokenArgs& a) {
  if (!a.admin_url.empty()) {
    auto reply = call_admin("list", a, "GET", "/api/tokens");
    if (!reply) return 1;
    if (reply->status != 200) return fail("list", relay::admin_error_text(*reply), 1);
    auto j = nlohmann::json::parse(reply->body, nullptr, false);
    if (!j.is_object() || !j.contains("tokens") || !j["tokens"].is_array()) {
      return fail("list", "unexpected reply from the admin API", 1);
    }
    return j;
  }
  auto store = relay::Store::open(a.data_dir, /*create=*/false);
  if (!store) return fail("list", store.error().message, 1);
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& t : (*store)->list_tokens()) arr.push_back(relay::to_json(t));
  return nlohmann::json{{"tokens", arr}};
}

int list(const TokenArgs& a) {
  auto fetched = fetch_tokens(a);
  if (auto* status = std::get_if<int>(&fetched)) return *status;
  const auto& j = std::get<nlohmann::json>(fetched);
  if (a.json) {
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  if (j["tokens"].empty()) {
    std::cerr << "no tokens in " << where(a) << " (create one with: porthole token create NAME)\n";
    return 0;
  }
  print_table(j["tokens"]);
  return 0;
}

int revoke_remote(const TokenArgs& a) {
  if (!relay::validate_token_name(a.name) && !a.name.starts_with("cli-")) {
    return fail("revoke", fmt::format("no token named '{}'", a.name), 2);
  }
  auto reply = call_admin("revoke", a, "DELETE", "/api/tokens/" + a.name);
  if (!reply) return 1;
  if (reply->status != 204) return fail("revoke", relay::admin_error_text(*reply), 1);
  return 0;
}

int revoke(const TokenArgs& a) {
  if (!a.admin_url.empty()) {
    if (int status = revoke_remote(a); status != 0) return status;
  } else {
    auto store = relay::Store::open(a.data_dir, /*create=*/false);
    if (!store) return fail("revoke", store.error().message, 1);
    if (auto r = (*store)->revoke_token(a.name); !r) {
      return fail("revoke", r.error().message + " in " + a.data_dir, 1);
    }
    (*store)->audit("token.revoke", fmt::format("name={} via=cli", a.name));
  }
  std::cerr << "revoked token '" << a.name << "'; agents using it are refused from their next connection\n";
  return 0;
}

void add_location_options(CLI::App* sub, TokenArgs& a) {
  sub->add_option("--data", a.data_dir, "relay data dir holding relay.db")->capture_default_str();
  sub->add_option("--admin", a.admin_url, "manage a running relay through its admin API (http://HOST:PORT)");
  sub->add_option("--admin-token", a.admin_token, "relay token for a non-loopback admin API")
      ->envname("PORTHOLE_ADMIN_TOKEN");
}

}  // namespace

void add_token(CLI::App& app, Run& run) {
  auto args = std::make_shared<TokenArgs>();
  auto* sub = app.add_subcommand(
      "token", "Manage agent tokens on the relay host (in the relay's data dir) or via --admin URL");
  sub->require_subcommand(1);

  auto* c =
      sub->add_subcommand("create", "Create a token; prints it once on stdout (it is stored only hashed)");
  c->add_option("NAME", args->name, "token name (letters, digits, - _ .)")->required();
  c->add_option("--allow-subdomain", args->allow_subdomain,
                "HTTP subdomains it may claim (glob list, e.g. 'app-*')");
  c->add_option("--allow-hostname", args->allow_hostname,
                "custom HTTP host names it may claim (glob list, e.g. '*.example.test')");
  c->add_option("--allow-port", args->allow_port, "public ports it may get, LO-HI");
  c->add_option("--allow-private", args->allow_private, "private names it may register (glob list)");
  c->add_option("--allow-connect", args->allow_connect,
                "private names of other tokens it may reach with porthole connect (glob list; default: its own only)");
  c->add_option("--allow-exit", args->allow_exit,
                "exits it may send traffic through with porthole socks --via: other tokens' exits by name, 'relay' "
                "for the relay's own (glob list; default: its own exits only)");
  add_location_options(c, *args);
  c->callback([&run, args] { run = [args] { return create(*args); }; });

  auto* l = sub->add_subcommand("list", "List tokens (names, ids, scopes; never the secrets)");
  l->add_flag("--json", args->json, "print JSON");
  add_location_options(l, *args);
  l->callback([&run, args] { run = [args] { return list(*args); }; });

  auto* r = sub->add_subcommand("revoke", "Revoke a token: agents using it are refused");
  r->add_option("NAME", args->name, "token name")->required();
  add_location_options(r, *args);
  r->callback([&run, args] { run = [args] { return revoke(*args); }; });
}

}  // namespace porthole::app
