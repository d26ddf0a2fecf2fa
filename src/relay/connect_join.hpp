// `porthole connect NAME`: a client session opens a stream with OPEN {"tunnel": NAME, "kind":
// "connect"}; the relay checks the token may reach the private name, opens a stream to an
// agent serving it and pumps one stream into the other. Nothing is decrypted beyond the two
// sessions' own TLS; flow control and half-close hold end to end (each side's window and FIN
// go through the pump).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "relay/registry.hpp"
#include "relay/store.hpp"
#include "session/session.hpp"

namespace porthole::relay {

// Serves one connect stream of the session of `token` (`client` names it in logs: the agent
// name and address). Refusals reset the stream with a typed reason the client prints:
// forbidden (the token may not reach the name), no_such_tunnel (no agent serves it now).
// `target` (HOST:PORT) is for exits (exit_endpoint.hpp): passed on in the OPEN to the exit
// agent, which checks and connects; a stream with a target reaches only an exit, one without
// only a plain private endpoint. `transport` "udp": a SOCKS5 UDP association with an exit (no
// target; the streams' DATAGRAM frames are passed on both ways, each naming its destination).
void join_connect(EndpointRegistry& registry, Store& store, const TokenRecord& token, const std::string& client,
                  std::shared_ptr<session::MuxStream> stream, std::string_view name, std::string_view target = {},
                  std::string_view transport = {});

}  // namespace porthole::relay
