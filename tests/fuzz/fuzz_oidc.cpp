// Fuzzes what the oidc action reads from the network and from visitors: the provider's
// discovery document and token response (parse_oidc_discovery, parse_token_response), and a
// visitor's callback URL and cookies against a compiled oidc policy (never allowed without a
// cookie sealed by the relay's key; never crashes).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "config/policy_file.hpp"
#include "policy/oidc.hpp"
#include "policy/oidc_session.hpp"

using namespace porthole;

namespace {

std::shared_ptr<policy::Policy> make_policy() {
  auto p = config::parse_policy(R"(
[[on_http_request]]
name = "login"
actions = [{ type = "oidc", issuer = "https://idp.example.com", client_id = "app", client_secret = "s", allowed_domains = ["example.com"] }]
)", "fuzz");
  if (!p) std::abort();
  auto& prov = (*p)->phases[1][0].actions[0].oidc->provider;
  std::array<std::uint8_t, 32> k{};
  k.fill(9);
  prov->sealer = std::make_shared<const policy::CookieSealer>(k);
  if (!prov->begin_fetch(0)) std::abort();
  prov->fetch_done(policy::OidcDiscovery{"https://idp.example.com", "https://idp.example.com/a",
                                         "https://idp.example.com/t", "https://idp.example.com/k", false});
  return *p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto policy = make_policy();
  const std::string text(reinterpret_cast<const char*>(data), size);
  (void)policy::parse_oidc_discovery(text, "https://idp.example.com");
  (void)policy::parse_token_response(text);
  (void)policy::safe_return_path(text);
  // A visitor: the first line is the target, the rest the Cookie header.
  const auto nl = text.find('\n');
  std::string target = "/.porthole/oidc/callback?" + text.substr(0, nl);
  const std::string cookie = nl == std::string::npos ? std::string() : text.substr(nl + 1);
  for (int i = 0; i < 2; ++i) {
    policy::Input in;
    in.ip = "192.0.2.1";
    in.method = "GET";
    in.host = "app.example.com";
    in.scheme = "https";
    in.target = target;
    in.headers = {{"Cookie", cookie}, {"Accept", "text/html"}, {"Host", "app.example.com:8443"}};
    in.unix_seconds = 1000;
    auto d = policy::evaluate(*policy, policy::Phase::http_request, in);
    if (d.allow) std::abort();  // no sealed cookie from the fuzzer can open
    if (d.oidc_exchange) {
      auto fin = policy::finish_oidc_login(*d.oidc_exchange, 200, text, nullptr, 1000);
      if (fin.allow) std::abort();
    }
    target = "/" + text.substr(0, nl);
  }
  return 0;
}
