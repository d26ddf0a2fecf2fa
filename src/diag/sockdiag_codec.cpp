#include "diag/sockdiag_codec.hpp"

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstring>

#include "core/metrics.hpp"
#include "diag/netlink_codec.hpp"

namespace porthole::diag {

namespace {

// Offsets inside struct inet_diag_msg (stable kernel ABI).
constexpr std::size_t kFamily = 0, kState = 1, kSport = 4, kDport = 6, kSrc = 8, kDst = 24, kIf = 40,
                      kUid = 64, kInode = 68;
static_assert(sizeof(inet_diag_msg) == 72);
static_assert(offsetof(inet_diag_msg, id) + offsetof(inet_diag_sockid, idiag_if) == kIf);
static_assert(offsetof(inet_diag_msg, idiag_inode) == kInode);

std::string format_addr(int af, const std::uint8_t* raw) {
  std::array<char, INET6_ADDRSTRLEN> text{};
  if (inet_ntop(af, raw, text.data(), text.size()) == nullptr) return "?";
  return text.data();
}

std::uint16_t be16(netlink::Bytes b, std::size_t off) {
  std::uint16_t v = 0;
  (void)netlink::read_u16(b, off, v);
  return ntohs(v);
}

// One SOCK_DIAG_BY_FAMILY payload -> entry; nullopt when it is too short or of another family.
std::optional<SockEntry> parse_msg(netlink::Bytes p, Proto proto) {
  if (p.size() < sizeof(inet_diag_msg)) return std::nullopt;
  SockEntry e;
  e.proto = proto;
  std::uint8_t fam = 0;
  (void)netlink::read_u8(p, kFamily, fam);
  if (fam != AF_INET && fam != AF_INET6) return std::nullopt;
  e.family = fam == AF_INET ? 4 : 6;
  (void)netlink::read_u8(p, kState, e.state);
  e.local_port = be16(p, kSport);
  e.remote_port = be16(p, kDport);
  e.local_addr = format_addr(fam, p.data() + kSrc);
  e.remote_addr = format_addr(fam, p.data() + kDst);
  (void)netlink::read_u32(p, kIf, e.ifindex);
  (void)netlink::read_u32(p, kUid, e.uid);
  (void)netlink::read_u32(p, kInode, e.inode);
  auto attrs = p.subspan(sizeof(inet_diag_msg));
  auto walked = netlink::for_each_attr(attrs, [&](const netlink::Attr& a) {
    if (a.type == INET_DIAG_SKV6ONLY && !a.value.empty()) e.v6only = a.value[0] != 0;
  });
  if (!walked) {
    static auto& bad_attr = metrics::counter("porthole_diag_sockdiag_drops_total{reason=\"bad_attr\"}",
                                             "sock_diag reply parts ignored");
    bad_attr.inc();  // the fixed part is sound; keep the entry without its attributes
  }
  return e;
}

}  // namespace

const char* state_name(std::uint8_t state) {
  static constexpr std::array<const char*, 14> kNames = {
      "UNKNOWN", "ESTAB",      "SYN-SENT", "SYN-RECV", "FIN-WAIT-1", "FIN-WAIT-2",   "TIME-WAIT",
      "UNCONN",  "CLOSE-WAIT", "LAST-ACK", "LISTEN",   "CLOSING",    "NEW-SYN-RECV", "UNKNOWN"};
  return state < kNames.size() ? kNames[state] : "UNKNOWN";
}

std::vector<std::uint8_t> build_sockdiag_request(int family, Proto proto, std::uint32_t states,
                                                 std::uint32_t seq) {
  inet_diag_req_v2 req{};
  req.sdiag_family = family == 6 ? AF_INET6 : AF_INET;
  req.sdiag_protocol = proto == Proto::tcp ? IPPROTO_TCP : IPPROTO_UDP;
  req.idiag_states = states;
  return netlink::dump_request(SOCK_DIAG_BY_FAMILY, seq, &req, sizeof req);
}

Result<ReplyChunk> parse_sockdiag_reply(std::span<const std::uint8_t> buf, Proto proto) {
  static auto& skipped = metrics::counter("porthole_diag_sockdiag_drops_total{reason=\"bad_msg\"}",
                                          "sock_diag reply parts ignored");
  ReplyChunk out;
  auto done = netlink::for_each_dump_message(buf, "sock_diag", [&](const netlink::Message& m) {
    if (m.type == SOCK_DIAG_BY_FAMILY) {
      if (auto e = parse_msg(m.payload, proto)) {
        out.entries.push_back(std::move(*e));
        return;
      }
    }
    ++out.skipped;
    skipped.inc();
  });
  if (!done) return done.error();
  out.done = *done;
  return out;
}

}  // namespace porthole::diag
