#include "proto/socks5.hpp"

#include <arpa/inet.h>

#include <algorithm>

#include <fmt/format.h>

namespace porthole::proto::socks5 {

bool Greeting::offers(std::uint8_t m) const { return std::find(methods.begin(), methods.end(), m) != methods.end(); }

GreetingResult parse_greeting(std::span<const std::uint8_t> in) {
  GreetingResult r;
  if (in.empty()) return r;
  if (in[0] != kVersion) {
    r.status = Status::error;
    r.error = fmt::format("not SOCKS5 (version byte {:#04x})", in[0]);
    return r;
  }
  if (in.size() < 2) return r;
  const std::size_t n = in[1];
  if (n == 0) {
    r.status = Status::error;
    r.send_no_acceptable = true;
    r.error = "the greeting offers no authentication method";
    r.consumed = 2;
    return r;
  }
  if (in.size() < 2 + n) return r;
  r.greeting.methods.assign(in.begin() + 2, in.begin() + 2 + static_cast<std::ptrdiff_t>(n));
  r.consumed = 2 + n;
  r.status = Status::done;
  return r;
}

UserPassResult parse_userpass(std::span<const std::uint8_t> in) {
  UserPassResult r;
  auto fail = [&](std::string why) {
    r.status = Status::error;
    r.error = std::move(why);
    return r;
  };
  if (in.empty()) return r;
  if (in[0] != 0x01) return fail(fmt::format("username/password version {:#04x}, not 0x01", in[0]));
  if (in.size() < 2) return r;
  const std::size_t ulen = in[1];
  if (ulen == 0) return fail("empty username");
  if (in.size() < 2 + ulen + 1) return r;
  const std::size_t plen = in[2 + ulen];
  if (plen == 0) return fail("empty password");
  if (in.size() < 3 + ulen + plen) return r;
  r.user.assign(reinterpret_cast<const char*>(in.data()) + 2, ulen);
  r.password.assign(reinterpret_cast<const char*>(in.data()) + 3 + ulen, plen);
  r.consumed = 3 + ulen + plen;
  r.status = Status::done;
  return r;
}

RequestResult parse_request(std::span<const std::uint8_t> in) {
  RequestResult r;
  auto fail = [&](std::uint8_t rep, std::string why) {
    r.status = Status::error;
    r.reply = rep;
    r.error = std::move(why);
    return r;
  };
  if (in.empty()) return r;
  if (in[0] != kVersion) return fail(kGeneralFailure, fmt::format("request version {:#04x}, not 5", in[0]));
  if (in.size() < 2) return r;
  if (in[1] != kCmdConnect && in[1] != kCmdBind && in[1] != kCmdUdpAssociate) {
    return fail(kCommandNotSupported, fmt::format("unknown command {:#04x}", in[1]));
  }
  r.request.command = in[1];
  if (in.size() < 3) return r;
  if (in[2] != 0) return fail(kGeneralFailure, fmt::format("reserved byte {:#04x}, not 0", in[2]));
  if (in.size() < 4) return r;
  r.request.atyp = in[3];
  std::size_t addr_len = 0, pos = 4;
  switch (in[3]) {
    case kAtypIpv4: addr_len = 4; break;
    case kAtypIpv6: addr_len = 16; break;
    case kAtypDomain:
      if (in.size() < 5) return r;
      addr_len = in[4];
      pos = 5;
      if (addr_len == 0) return fail(kGeneralFailure, "empty domain name");
      break;
    default: return fail(kAddressTypeNotSupported, fmt::format("unknown address type {:#04x}", in[3]));
  }
  if (in.size() < pos + addr_len + 2) {
    // A domain's bad bytes are known before the port arrives.
    if (in[3] == kAtypDomain) {
      for (std::size_t i = pos; i < in.size() && i < pos + addr_len; ++i) {
        if (in[i] < 0x21 || in[i] == 0x7f) return fail(kGeneralFailure, "a control character or space in the domain name");
      }
    }
    return r;
  }
  const auto* a = in.data() + pos;
  if (in[3] == kAtypIpv4) {
    r.request.host = fmt::format("{}.{}.{}.{}", a[0], a[1], a[2], a[3]);
  } else if (in[3] == kAtypIpv6) {
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, a, buf, sizeof buf);
    r.request.host = buf;
  } else {
    for (std::size_t i = 0; i < addr_len; ++i) {
      if (a[i] < 0x21 || a[i] == 0x7f) return fail(kGeneralFailure, "a control character or space in the domain name");
    }
    r.request.host.assign(reinterpret_cast<const char*>(a), addr_len);
  }
  r.request.port = static_cast<std::uint16_t>((in[pos + addr_len] << 8) | in[pos + addr_len + 1]);
  r.consumed = pos + addr_len + 2;
  r.status = Status::done;
  return r;
}

std::vector<std::uint8_t> encode_method(std::uint8_t method) { return {kVersion, method}; }

std::vector<std::uint8_t> encode_auth_status(bool ok) { return {0x01, static_cast<std::uint8_t>(ok ? 0 : 1)}; }

std::vector<std::uint8_t> encode_reply(std::uint8_t rep, std::span<const std::uint8_t> bound_ip,
                                       std::uint16_t bound_port) {
  std::vector<std::uint8_t> out{kVersion, rep, 0};
  if (bound_ip.size() == 16) {
    out.push_back(kAtypIpv6);
  } else {
    out.push_back(kAtypIpv4);
    if (bound_ip.size() != 4) bound_ip = {};
  }
  if (bound_ip.empty()) {
    out.insert(out.end(), 4, 0);
  } else {
    out.insert(out.end(), bound_ip.begin(), bound_ip.end());
  }
  out.push_back(static_cast<std::uint8_t>(bound_port >> 8));
  out.push_back(static_cast<std::uint8_t>(bound_port));
  return out;
}

}  // namespace porthole::proto::socks5
