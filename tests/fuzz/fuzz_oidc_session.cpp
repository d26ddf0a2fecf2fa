// Fuzzes the oidc session cookie (visitors send any cookie they like): opening arbitrary bytes
// never crashes and never succeeds without the key; a sealed session always opens again.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "policy/oidc_session.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::array<std::uint8_t, 32> key{};
  key.fill(0x42);
  const porthole::policy::CookieSealer sealer(key);
  const std::string text(reinterpret_cast<const char*>(data), size);
  if (sealer.open(text, "app.example.com", 0)) std::abort();  // forging needs the key
  const porthole::policy::OidcSession s{text.substr(0, 512), text.substr(size / 2, 256), 1000};
  const auto c = sealer.seal(s, "app.example.com");
  if (c.empty()) return 0;
  auto o = sealer.open(c, "app.example.com", 999);
  if (!o) std::abort();
  if (sealer.open(c, "other.example.com", 999)) std::abort();
  return 0;
}
