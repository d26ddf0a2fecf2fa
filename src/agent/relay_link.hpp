// Dialing the relay: TCP, TLS 1.3, the relay's identity check, and the hello that proves we
// hold the token (sent first on the session; see docs/protocol.md).
#pragma once

#include <memory>
#include <string>

#include <boost/asio/ssl/context.hpp>

#include "config/model.hpp"
#include "net/tls_context.hpp"
#include "net/tls_socket.hpp"
#include "proto/messages.hpp"

namespace porthole::agent {

struct RelayLink {
  std::unique_ptr<net::TlsSocket> tls;
  proto::Hello hello;  // ready to send
};

// Trust settings for cfg's relay.
net::RelayTrust relay_trust(const config::AgentConfig& cfg);

// Fails with a message fit for the user: unreachable relay, TLS failure, certificate mismatch.
net::Task<Result<RelayLink>> dial_relay(const config::AgentConfig& cfg, net::asio::ssl::context& ctx);

// Explains how to get a relay when none is configured.
std::string no_relay_help();

}  // namespace porthole::agent
