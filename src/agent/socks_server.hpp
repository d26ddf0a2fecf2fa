// `porthole socks`: a local SOCKS5 server (RFC 1928 CONNECT, RFC 1929 user/password) that also
// answers HTTP CONNECT and plain-HTTP absolute-form requests on the same port (the first byte
// tells: 0x05 is SOCKS5, an ASCII letter HTTP). Each accepted request becomes one stream of the
// Connector's session to the exit NAME (OPEN target HOST:PORT); the exit checks, resolves and
// connects, and its answer (the first byte 0x00, or a RESET) becomes the SOCKS reply / HTTP
// status: forbidden -> 0x02 / 403, refused -> 0x05 / 502, unreachable -> 0x04 / 502, timed out
// -> 0x04 / 504, no exit -> 0x03 / 502 (docs/socks.md).
#pragma once

#include <optional>
#include <string>

#include "agent/connector.hpp"
#include "net/asio.hpp"

namespace porthole::agent {

struct SocksSettings {
  std::string via;  // the exit's private name
  std::optional<std::pair<std::string, std::string>> user;  // --user U:P: required from every client
};

// Serves one accepted client connection to its end.
net::Task<void> serve_socks_client(Connector& c, const SocksSettings& s, net::tcp::socket sock);

}  // namespace porthole::agent
