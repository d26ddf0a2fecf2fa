// Fuzz target: the ACME response parsers (src/acme/acme_codec.cpp): directory, problem
// documents, orders, authorizations, challenges, Retry-After and PEM chains. The first byte
// picks the parser so one corpus covers them all.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "acme/acme_codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace porthole::acme;
  if (size == 0) return 0;
  const std::string_view s(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 7) {
    case 0:
      (void)parse_directory(s);
      break;
    case 1:
      if (auto p = parse_problem(s)) (void)p->summary();
      break;
    case 2:
      (void)parse_order(s);
      break;
    case 3:
      if (auto a = parse_authorization(s)) {
        for (const auto& c : a->challenges) (void)valid_token(c.token);
        if (a->error) (void)a->error->summary();
      }
      break;
    case 4:
      (void)parse_challenge(s);
      break;
    case 5:
      (void)parse_retry_after(s, 1'700'000'000);
      break;
    default:
      (void)split_pem_chain(s);
      break;
  }
  return 0;
}
