// Fuzz target: the SOCKS5 server codec (src/proto/socks5.cpp), fed the way `porthole socks`
// feeds it: greeting, then username/password when offered, then the request, the bytes arriving
// in small pieces (sizes from the first input byte), each parse seeing all bytes of its message
// received so far. Checks, besides memory safety: a decision never changes with more bytes
// (incremental == whole), `consumed` stays inside the input, replies are well-formed; the
// requested host goes through the exit's destination check (policy/dest_check.hpp) the way
// the exit treats it: a canonical address re-parses to itself, and no special address
// passes a 0.0.0.0/0 + ::/0 list.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>

#include "policy/dest_check.hpp"
#include "proto/socks5.hpp"

namespace s5 = porthole::proto::socks5;

namespace {

template <class Parse>
auto feed(std::span<const std::uint8_t> in, std::uint32_t& rng, Parse parse) {
  std::size_t have = 0;
  auto r = parse(in.first(0));
  while (have < in.size()) {
    rng = rng * 1103515245u + 12345u;
    have = std::min(in.size(), have + 1 + (rng >> 16) % 8);
    r = parse(in.first(have));
    if (r.status != s5::Status::need_more) break;
  }
  auto whole = parse(in);
  if (r.status != s5::Status::need_more) {
    if (whole.status != r.status || whole.error != r.error || whole.consumed != r.consumed) __builtin_trap();
  }
  if (whole.status == s5::Status::done && (whole.consumed == 0 || whole.consumed > in.size())) __builtin_trap();
  return whole;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::uint32_t rng = data[0] * 2654435761u + 1;
  std::span<const std::uint8_t> in(data + 1, size - 1);
  auto g = feed(in, rng, [](std::span<const std::uint8_t> b) { return s5::parse_greeting(b); });
  if (g.status != s5::Status::done) return 0;
  in = in.subspan(g.consumed);
  if (g.greeting.offers(s5::kMethodUserPass)) {
    auto a = feed(in, rng, [](std::span<const std::uint8_t> b) { return s5::parse_userpass(b); });
    if (a.status != s5::Status::done) return 0;
    if (a.user.empty() || a.password.empty() || a.user.size() > 255 || a.password.size() > 255) __builtin_trap();
    in = in.subspan(a.consumed);
  }
  auto q = feed(in, rng, [](std::span<const std::uint8_t> b) { return s5::parse_request(b); });
  if (q.status == s5::Status::error) {
    auto rep = s5::encode_reply(q.reply);
    if (rep.size() != 10 || rep[1] == s5::kSucceeded) __builtin_trap();
  }
  if (q.status != s5::Status::done) return 0;
  if (q.request.host.empty()) __builtin_trap();
  static const auto any = [] {
    std::string specs[] = {"0.0.0.0/0", "::/0", "db.test:5432", "*.corp.test:80,443,8000-8100"};
    return *porthole::policy::DestPolicy::parse(specs);
  }();
  auto a = porthole::policy::parse_dest_ip(q.request.host);
  if (a) {
    auto again = porthole::policy::parse_dest_ip(a->text());
    if (!again || again->ip.bytes != a->ip.bytes || again->text() != a->text()) __builtin_trap();
    porthole::policy::DestAddr one[] = {*a};
    auto v = any.check("", one, q.request.port);
    const auto& b = a->ip.bytes;
    const bool loop4 = a->v4() && b[12] == 127;
    const bool loop6 = !a->v4() && std::all_of(b.begin(), b.begin() + 15, [](std::uint8_t x) { return x == 0; });
    if (v.allowed && (loop4 || loop6 || (a->v4() && b[12] == 0))) __builtin_trap();
  }
  (void)porthole::policy::split_dest(q.request.host + ":" + std::to_string(q.request.port));
  std::string spec[] = {q.request.host};
  (void)porthole::policy::DestPolicy::parse(spec);
  return 0;
}
