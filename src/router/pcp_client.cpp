// PCP over UDP: one request, retransmitted (250 ms, doubling, see retransmit.hpp) until a valid
// reply or the deadline.
// Replies from anyone but the gateway's port 5351, undecodable replies and wrong nonces are
// ignored with a counter and a log line; waiting goes on until the deadline.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <optional>
#include <random>

#include <spdlog/spdlog.h>

#include "core/metrics.hpp"
#include "router/backends.hpp"
#include "router/retransmit.hpp"

namespace porthole::router::detail {
namespace {

using Clock = std::chrono::steady_clock;

class UdpSocket {
 public:
  UdpSocket() : fd_(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {}
  ~UdpSocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

sockaddr_in v4(const std::string& addr, std::uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  inet_pton(AF_INET, addr.c_str(), &sa.sin_addr);
  return sa;
}

// One datagram off the socket: the reply `accept` takes, a definite failure (a NAT-PMP-only
// router), or nothing (ignored with a counter and a log line; `last_ignored` says why).
template <class Accept>
std::optional<Result<pcp::Response>> take_reply(int fd, const sockaddr_in& gw, Accept& accept,
                                                std::string& last_ignored) {
  std::uint8_t buf[pcp::kMaxMessage + 4];
  sockaddr_in from{};
  socklen_t flen = sizeof from;
  ssize_t n = ::recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &flen);
  if (n < 0) return std::nullopt;
  if (from.sin_addr.s_addr != gw.sin_addr.s_addr || from.sin_port != gw.sin_port) {
    char a[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &from.sin_addr, a, sizeof a);
    count_ignored("pcp", "wrong_source",
                  fmt::format("reply from {}:{}, not the gateway", a, ntohs(from.sin_port)));
    return std::nullopt;
  }
  auto r = pcp::decode_response({buf, static_cast<std::size_t>(n)});
  if (!r) {
    // A NAT-PMP-only router answers with version 0: a definite "no PCP here".
    if (n >= 1 && buf[0] == 0) return Result<pcp::Response>(r.error());
    count_ignored("pcp", "malformed", r.error().message);
    last_ignored = r.error().message;
    return std::nullopt;
  }
  if (auto why = accept(*r); !why.empty()) {
    count_ignored("pcp", why, "reply does not match the request");
    last_ignored = why;
    return std::nullopt;
  }
  return r;
}

// Sends `req` to the gateway, retransmitting on Retransmit's schedule, and returns the first
// reply `accept` takes, or an error at the deadline. Ignored replies never end the wait early
// and never cause a resend.
template <class Accept>
Result<pcp::Response> exchange(const Ctx& c, const std::vector<std::uint8_t>& req, Accept accept) {
  UdpSocket s;
  if (s.fd() < 0) return make_error("PCP: socket: {}", std::strerror(errno));
  sockaddr_in local = v4(c.gw.lan_address, 0), gw = v4(c.gw.gateway, pcp::kServerPort);
  if (::bind(s.fd(), reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
    return make_error("PCP: cannot bind to {}: {}", c.gw.lan_address, std::strerror(errno));
  }
  Retransmit rt(Clock::now(), c.timeout);
  std::string last_ignored;
  for (auto now = Clock::now(); !rt.expired(now); now = Clock::now()) {
    if (rt.send_due(now) &&
        ::sendto(s.fd(), req.data(), req.size(), 0, reinterpret_cast<sockaddr*>(&gw), sizeof gw) < 0) {
      count_error("pcp", "send");
      return make_error("PCP: cannot send to {}: {}", c.gw.gateway, std::strerror(errno));
    }
    pollfd p{s.fd(), POLLIN, 0};
    if (::poll(&p, 1, rt.wait_ms(now)) <= 0) continue;
    if (auto r = take_reply(s.fd(), gw, accept, last_ignored)) return std::move(*r);
  }
  count_error("pcp", "timeout");
  if (!last_ignored.empty()) {
    return make_error("PCP: no valid answer from {} within {} ms (ignored: {})", c.gw.gateway,
                      c.timeout.count(), last_ignored);
  }
  return make_error("PCP: no answer from {}:{} within {} ms", c.gw.gateway, pcp::kServerPort,
                    c.timeout.count());
}

}  // namespace

namespace {

// Maps (and at once deletes) the UDP port of a socket held meanwhile: the router's answer carries
// the external address, or its refusal.
Result<Mapping> probe_mapping(const Ctx& c) {
  UdpSocket hold;
  sockaddr_in local = v4(c.gw.lan_address, 0);
  socklen_t len = sizeof local;
  if (hold.fd() < 0 || ::bind(hold.fd(), reinterpret_cast<sockaddr*>(&local), sizeof local) != 0 ||
      ::getsockname(hold.fd(), reinterpret_cast<sockaddr*>(&local), &len) != 0) {
    return make_error("PCP: cannot hold a UDP port on {}: {}", c.gw.lan_address, std::strerror(errno));
  }
  MappingRequest req;
  req.external_port = ntohs(local.sin_port);
  req.internal_port = req.external_port;
  req.protocol = Protocol::udp;
  auto nonce = pcp_random_nonce();
  auto m = pcp_map(c, req, nonce, 30);
  if (m) (void)pcp_map(c, req, nonce, 0);
  return m;
}

}  // namespace

pcp::Nonce pcp_random_nonce() {
  std::random_device rd;
  pcp::Nonce n{};
  for (auto& b : n) b = static_cast<std::uint8_t>(rd());
  return n;
}

MethodProbe pcp_probe(const Ctx& c) {
  MethodProbe mp;
  mp.method = Method::pcp;
  auto client = pcp::ipv4_mapped(c.gw.lan_address);
  if (!client) {
    mp.error = client.error().message;
    return mp;
  }
  // ANNOUNCE tells whether PCP is there and its epoch. PCP reports the external address only in
  // a mapping, so the probe then maps a UDP port of a socket it holds for 30 s and deletes it.
  auto r = exchange(c, pcp::encode_announce(*client), [](const pcp::Response& x) -> std::string {
    return x.opcode == pcp::Opcode::announce ? "" : "wrong_opcode";
  });
  if (!r) {
    mp.answered = r.error().message.find("NAT-PMP") != std::string::npos;
    mp.error = r.error().message;
    return mp;
  }
  mp.answered = true;
  mp.epoch = r->epoch;
  if (r->result != 0) {
    mp.error = pcp::result_text(r->result);
    return mp;
  }
  auto m = probe_mapping(c);
  if (!m) {
    mp.error = m.error().message;
  } else if (m->external_address.empty()) {
    mp.error = "PCP answers but did not report an external address";
  } else {
    mp.ok = true;
    mp.external_ip = m->external_address;
  }
  mp.detail = "PCP version 2";
  return mp;
}

Result<Mapping> pcp_map(const Ctx& c, const MappingRequest& req, const pcp::Nonce& nonce,
                        std::uint32_t lifetime) {
  auto client = pcp::ipv4_mapped(c.gw.lan_address);
  if (!client) return client.error();
  pcp::MapRequest mr;
  mr.client_ip = *client;
  mr.lifetime = lifetime;
  mr.nonce = nonce;
  mr.protocol = req.protocol == Protocol::udp ? pcp::kProtoUdp : pcp::kProtoTcp;
  mr.internal_port = req.internal_port ? req.internal_port : req.external_port;
  mr.suggested_external_port = req.external_port;
  auto r = exchange(c, pcp::encode_map(mr), [&](const pcp::Response& x) -> std::string {
    if (x.opcode != pcp::Opcode::map) return "wrong_opcode";
    if (x.map && x.map->nonce != nonce) return "wrong_nonce";
    return "";
  });
  if (!r) return r.error();
  auto md = pcp::match_map_reply(*r, mr);
  if (!md) {
    count_error("pcp", "refused");
    return make_error("PCP: {}", md.error().message);
  }
  Mapping m;
  m.method = Method::pcp;
  m.protocol = req.protocol;
  m.external_port = md->external_port ? md->external_port : req.external_port;
  m.internal_port = mr.internal_port;
  m.internal_address = c.gw.lan_address;
  m.external_address = pcp::format_ip(md->external_ip);
  m.lease_seconds = r->lifetime;
  m.description = req.description;
  m.epoch = r->epoch;
  m.ours = true;
  return m;
}

}  // namespace porthole::router::detail
