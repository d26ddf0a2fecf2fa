// NAT-PMP (RFC 6886) through Debian's libnatpmp. libnatpmp talks to the gateway we give it and
// rejects replies from other addresses (NATPMP_ERR_WRONGPACKETSOURCE), which we count and skip.
#include <arpa/inet.h>
#include <natpmp.h>
#include <sys/select.h>

#include "router/backends.hpp"

namespace porthole::router::detail {
namespace {

using Clock = std::chrono::steady_clock;

std::string natpmp_error(int rc) {
  switch (rc) {
    case NATPMP_ERR_NOGATEWAYSUPPORT: return "the gateway does not support NAT-PMP";
    case NATPMP_ERR_UNSUPPORTEDVERSION: return "the router does not support NAT-PMP version 0";
    case NATPMP_ERR_UNSUPPORTEDOPCODE: return "the router does not support this NAT-PMP request";
    case NATPMP_ERR_NOTAUTHORIZED: return "NOT_AUTHORIZED: the router refuses (mapping disabled or forbidden)";
    case NATPMP_ERR_NETWORKFAILURE:
      return "NETWORK_FAILURE: the router has no usable external address (not connected, or its "
             "WAN address is private: double NAT / CGNAT?)";
    case NATPMP_ERR_OUTOFRESOURCES: return "OUT_OF_RESOURCES: the router cannot create more mappings";
    case NATPMP_ERR_UNDEFINEDERROR: return "the router reported an undefined NAT-PMP error";
    case NATPMP_ERR_SOCKETERROR: return "socket() failed";
    case NATPMP_ERR_CONNECTERR: return "cannot reach the gateway (connect failed)";
    case NATPMP_ERR_SENDERR: return "cannot send to the gateway";
    case NATPMP_ERR_RECVFROM: return "receive failed (ICMP port unreachable: no NAT-PMP server?)";
    default: return fmt::format("NAT-PMP error {}", rc);
  }
}

bool is_router_answer(int rc) {
  return rc == NATPMP_ERR_UNSUPPORTEDVERSION || rc == NATPMP_ERR_UNSUPPORTEDOPCODE ||
         rc == NATPMP_ERR_NOTAUTHORIZED || rc == NATPMP_ERR_NETWORKFAILURE ||
         rc == NATPMP_ERR_OUTOFRESOURCES || rc == NATPMP_ERR_UNDEFINEDERROR;
}

struct Session {
  natpmp_t n{};
  bool open = false;
  ~Session() {
    if (open) closenatpmp(&n);
  }
};

// Sends via `send` and waits for the reply (libnatpmp retransmits) until the deadline.
// Returns the libnatpmp code (0 ok) and fills `resp`.
template <class Send>
int request(const Ctx& c, Session& s, Send send, natpmpresp_t& resp) {
  in_addr gw{};
  inet_pton(AF_INET, c.gw.gateway.c_str(), &gw);
  if (int rc = initnatpmp(&s.n, 1, gw.s_addr); rc < 0) return rc;
  s.open = true;
  if (int rc = send(&s.n); rc < 0) return rc;
  auto deadline = Clock::now() + c.timeout;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now());
    if (left.count() <= 0) return NATPMP_TRYAGAIN;
    timeval tv{};
    getnatpmprequesttimeout(&s.n, &tv);
    auto lib_wait = std::chrono::seconds(tv.tv_sec) + std::chrono::microseconds(tv.tv_usec);
    auto wait = std::min<std::chrono::microseconds>(left, lib_wait);
    tv.tv_sec = static_cast<time_t>(wait.count() / 1000000);
    tv.tv_usec = static_cast<suseconds_t>(wait.count() % 1000000);
    fd_set fds;
    FD_ZERO(&fds);
    FD_SET(s.n.s, &fds);
    select(s.n.s + 1, &fds, nullptr, nullptr, &tv);
    int rc = readnatpmpresponseorretry(&s.n, &resp);
    if (rc == NATPMP_ERR_WRONGPACKETSOURCE) {
      count_ignored("natpmp", "wrong_source", "reply not from the gateway");
      continue;
    }
    if (rc != NATPMP_TRYAGAIN) return rc;
  }
}

}  // namespace

MethodProbe natpmp_probe(const Ctx& c) {
  MethodProbe mp;
  mp.method = Method::natpmp;
  Session s;
  natpmpresp_t resp{};
  int rc = request(c, s, [](natpmp_t* n) { return sendpublicaddressrequest(n); }, resp);
  if (rc == NATPMP_TRYAGAIN) {
    count_error("natpmp", "timeout");
    mp.error = fmt::format("NAT-PMP: no answer from {}:5351 within {} ms", c.gw.gateway, c.timeout.count());
    return mp;
  }
  if (rc < 0) {
    count_error("natpmp", is_router_answer(rc) ? "refused" : "io");
    mp.answered = is_router_answer(rc);
    mp.error = "NAT-PMP: " + natpmp_error(rc);
    return mp;
  }
  mp.answered = true;
  mp.epoch = resp.epoch;
  char a[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &resp.pnu.publicaddress.addr, a, sizeof a);
  mp.external_ip = a;
  mp.ok = mp.external_ip != "0.0.0.0";
  if (!mp.ok) {
    mp.external_ip.clear();
    mp.error = "NAT-PMP: the router reports no external address (0.0.0.0)";
  }
  mp.detail = "NAT-PMP version 0";
  return mp;
}

Result<Mapping> natpmp_map(const Ctx& c, const MappingRequest& req, std::uint32_t lifetime) {
  Session s;
  natpmpresp_t resp{};
  int proto = req.protocol == Protocol::udp ? NATPMP_PROTOCOL_UDP : NATPMP_PROTOCOL_TCP;
  std::uint16_t internal = req.internal_port ? req.internal_port : req.external_port;
  // RFC 6886 §3.4: a delete carries external port 0 and lifetime 0.
  std::uint16_t ext = lifetime == 0 ? 0 : req.external_port;
  int rc = request(
      c, s, [&](natpmp_t* n) { return sendnewportmappingrequest(n, proto, internal, ext, lifetime); },
      resp);
  if (rc == NATPMP_TRYAGAIN) {
    count_error("natpmp", "timeout");
    return make_error("NAT-PMP: no answer from {}:5351 within {} ms", c.gw.gateway, c.timeout.count());
  }
  if (rc < 0) {
    count_error("natpmp", is_router_answer(rc) ? "refused" : "io");
    return make_error("NAT-PMP: {}", natpmp_error(rc));
  }
  if (resp.pnu.newportmapping.privateport != internal) {
    count_ignored("natpmp", "wrong_port", "reply for another internal port");
    return make_error("NAT-PMP: reply is for internal port {}, asked {}",
                      resp.pnu.newportmapping.privateport, internal);
  }
  Mapping m;
  m.method = Method::natpmp;
  m.protocol = req.protocol;
  m.external_port = lifetime == 0 ? req.external_port : resp.pnu.newportmapping.mappedpublicport;
  m.internal_port = internal;
  m.internal_address = c.gw.lan_address;
  m.lease_seconds = resp.pnu.newportmapping.lifetime;
  m.description = req.description;
  m.epoch = resp.epoch;
  m.ours = true;
  if (lifetime != 0 && m.external_port == 0) return make_error("NAT-PMP: the router granted no port");
  return m;
}

}  // namespace porthole::router::detail
