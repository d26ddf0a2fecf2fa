// Fuzzes the JWT parser and verifier (tokens come from visitors: hostile) and the JWKS parser
// (documents come from a jwks_url server or an agent's policy). The first byte picks which;
// tokens are checked against a fixed key set with one key of every type.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "policy/jwt.hpp"

namespace {

const porthole::policy::KeySet& keys() {
  static const auto ks = [] {
    auto k = porthole::policy::parse_jwks(
        R"({"keys":[{"kty":"RSA","kid":"2011-04-29","n":"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ","e":"AQAB"},)"
        R"({"kty":"EC","kid":"ec","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},)"
        R"({"kty":"OKP","kid":"ed","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},)"
        R"({"kty":"oct","kid":"hs","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"}]})");
    if (!k) std::abort();
    return *k;
  }();
  return ks;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    std::size_t skipped = 0;
    auto ks = porthole::policy::parse_jwks(text, &skipped);
    if (ks && ks->keys.size() > porthole::policy::kMaxJwksKeys) std::abort();
    return 0;
  }
  porthole::policy::JwtRules rules;
  rules.issuers = {"joe"};
  rules.audiences = {"api"};
  auto v = porthole::policy::verify_jwt(text, keys(), rules, 1300819000);
  if (v.ok && v.error.counter.size() != 0) std::abort();
  if (!v.ok && v.error.counter.empty()) std::abort();  // every refusal has its reason label
  for (const auto& k : keys().keys) (void)porthole::policy::jws_signature_ok(text, k);
  return 0;
}
