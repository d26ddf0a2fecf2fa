#include "diag/probes.hpp"

#include <arpa/inet.h>
#include <linux/errqueue.h>
#include <linux/rtnetlink.h>
#include <netdb.h>
#include <netinet/in.h>
#include <nftables/libnftables.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <optional>

#include "core/metrics.hpp"
#include "diag/ifaddr_codec.hpp"
#include "diag/sockdiag.hpp"

namespace porthole::diag {

Result<std::string> read_nft_ruleset_json() {
  static auto& errors =
      metrics::counter("porthole_diag_probe_errors_total{probe=\"nftables\"}", "doctor probes that failed");
  nft_ctx* ctx = nft_ctx_new(NFT_CTX_DEFAULT);
  if (ctx == nullptr) {
    errors.inc();
    return make_error("nftables: cannot create a context");
  }
  nft_ctx_output_set_flags(ctx, NFT_CTX_OUTPUT_JSON);
  nft_ctx_buffer_output(ctx);
  nft_ctx_buffer_error(ctx);
  int rc = nft_run_cmd_from_buffer(ctx, "list ruleset");
  const char* out_buf = nft_ctx_get_output_buffer(ctx);
  const char* err_buf = nft_ctx_get_error_buffer(ctx);
  std::string out = out_buf ? out_buf : "";
  std::string err = err_buf ? err_buf : "";
  nft_ctx_free(ctx);
  if (rc != 0) {
    errors.inc();
    while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
    if (err.find("Operation not permitted") != std::string::npos || geteuid() != 0) {
      return make_error("nftables: permission denied (run doctor as root to check the firewall)");
    }
    return make_error("nftables: {}", err.empty() ? "list ruleset failed" : err);
  }
  if (out.empty()) out = R"({"nftables":[]})";
  return out;
}

Result<bool> address_is_dynamic(const std::string& ipv4) {
  std::optional<bool> dynamic;
  auto r = netlink_dump(
      NETLINK_ROUTE, build_getaddr_request(1),
      [&](std::span<const std::uint8_t> chunk) -> Result<bool> {
        auto parsed = parse_getaddr_reply(chunk);
        if (!parsed) return parsed.error();
        for (const auto& a : parsed->addrs) {
          if (a.address == ipv4) dynamic = !a.permanent();
        }
        return parsed->done;
      },
      std::chrono::seconds(2));
  if (!r) return r.error();
  if (!dynamic) return make_error("address {} is not configured here", ipv4);
  return *dynamic;
}

Result<std::string> resolve_ipv4(const std::string& host) {
  in_addr a{};
  if (inet_pton(AF_INET, host.c_str(), &a) == 1) return host;
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res);
  if (rc != 0 || res == nullptr) return make_error("cannot resolve {}: {}", host, gai_strerror(rc));
  std::array<char, INET_ADDRSTRLEN> text{};
  sockaddr_in sin{};
  std::memcpy(&sin, res->ai_addr, sizeof sin);
  inet_ntop(AF_INET, &sin.sin_addr, text.data(), text.size());
  freeaddrinfo(res);
  return std::string(text.data());
}

namespace {

struct HopAnswer {
  std::string from;
  bool reached = false;  // the destination itself answered (port unreachable)
};

// Reads one ICMP error from the socket's error queue.
std::optional<HopAnswer> read_icmp_error(int fd) {
  alignas(cmsghdr) std::array<char, 512> control{};
  std::array<char, 64> data{};
  iovec iov{data.data(), data.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  if (::recvmsg(fd, &msg, MSG_ERRQUEUE) < 0) return std::nullopt;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_IP || c->cmsg_type != IP_RECVERR) continue;
    if (c->cmsg_len < CMSG_LEN(sizeof(sock_extended_err) + sizeof(sockaddr_in))) continue;
    sock_extended_err ee{};
    std::memcpy(&ee, CMSG_DATA(c), sizeof ee);
    if (ee.ee_origin != SO_EE_ORIGIN_ICMP) continue;
    sockaddr_in off{};
    std::memcpy(&off, CMSG_DATA(c) + sizeof ee, sizeof off);
    std::array<char, INET_ADDRSTRLEN> text{};
    inet_ntop(AF_INET, &off.sin_addr, text.data(), text.size());
    return HopAnswer{text.data(), ee.ee_type == 3};  // 11 time exceeded, 3 unreachable
  }
  return std::nullopt;
}

std::optional<HopAnswer> probe_hop(const sockaddr_in& dest, int ttl, std::chrono::milliseconds wait) {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  int on = 1;
  ::setsockopt(fd, SOL_IP, IP_RECVERR, &on, sizeof on);
  ::setsockopt(fd, SOL_IP, IP_TTL, &ttl, sizeof ttl);
  std::optional<HopAnswer> out;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&dest), sizeof dest) == 0 &&
      ::send(fd, "p", 1, 0) >= 0) {
    pollfd p{fd, POLLERR, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) > 0) out = read_icmp_error(fd);
  }
  ::close(fd);
  return out;
}

}  // namespace

Result<std::vector<std::string>> trace_hops(const std::string& dest, int max_hops,
                                            std::chrono::milliseconds per_hop) {
  sockaddr_in to{};
  to.sin_family = AF_INET;
  if (inet_pton(AF_INET, dest.c_str(), &to.sin_addr) != 1) return make_error("not an IPv4 address: {}", dest);
  std::vector<std::string> hops;
  for (int ttl = 1; ttl <= max_hops; ++ttl) {
    to.sin_port = htons(static_cast<std::uint16_t>(33434 + ttl));
    auto a = probe_hop(to, ttl, per_hop);
    hops.push_back(a ? a->from : "");
    if (a && (a->reached || a->from == dest)) break;
  }
  return hops;
}

}  // namespace porthole::diag
