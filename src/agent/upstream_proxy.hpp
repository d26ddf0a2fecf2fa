// PROXY protocol towards the local service (--upstream-proxy-protocol 1|2, docs/proxy-protocol.md):
// the header the agent writes first on a new local connection, from what the relay said about
// the visitor in the stream's OPEN metadata.
#pragma once

#include <cstdint>
#include <string>

#include "proto/messages.hpp"
#include "proto/proxy_protocol.hpp"

namespace porthole::agent {

// The header (as bytes in a string, ready to write and to compare) for a visitor connection:
// source = the visitor, destination = what it connected to (the relay's public address, or what
// a trusted front proxy said). `version` 0 gives "". Addresses that cannot be read (an old
// relay without `dest`) fall back: no destination = the unspecified address of the visitor's
// family, port 0; no visitor = v1 "PROXY UNKNOWN" / v2 LOCAL.
std::string upstream_proxy_header(int version, const proto::OpenMeta& meta,
                                  proto::pp::Transport transport = proto::pp::Transport::stream);

// For connections the agent makes on its own behalf (health checks): v1 UNKNOWN, v2 LOCAL.
std::string local_proxy_header(int version);

}  // namespace porthole::agent
