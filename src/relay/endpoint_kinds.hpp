// The table of endpoint kinds: how a bind of each `proto` becomes an endpoint. Adding a kind
// is one file (its Endpoint and bind function) plus one line in kEndpointKinds
// (endpoint_kinds.cpp). Kinds get what they need through BindContext, not through Relay.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "config/model.hpp"
#include "net/asio.hpp"
#include "proto/messages.hpp"
#include "relay/registry.hpp"
#include "relay/store.hpp"

namespace porthole::relay {

struct BindContext {
  net::asio::io_context& io;
  const config::RelayConfig& cfg;
  Store& store;
  EndpointRegistry& registry;
  std::string listen_host;    // where public ports listen (the host of --agents)
  std::string public_host;    // the host visitors use in URLs (--domain, or what the agent dialed)
  std::uint16_t http_port = 0;  // the shared HTTP listener's port (0: none)
  std::uint16_t https_port = 0;  // the shared HTTPS listener's port (0: none)
};

// What an agent asks for, and who it is.
struct BindRequest {
  const proto::Bind& bind;
  const TokenRecord& token;
  Member member;
};

struct Bound {
  std::shared_ptr<Endpoint> endpoint;
  std::vector<Member> displaced;  // agents this bind took the endpoint from
};

using BindFn = Result<Bound> (*)(BindContext& ctx, const BindRequest& req);

struct EndpointKind {
  std::string_view proto;
  BindFn bind;
};

// The kind for `proto`, or nullptr.
const EndpointKind* find_endpoint_kind(std::string_view proto);
std::string endpoint_kind_names();  // "tcp, http" for messages

// Shared by the host-routed kinds (http, tls; http_endpoint.cpp): the host name asked for (or a
// random one), its ownership, and the endpoint in the route table with its EdgeSettings.
Result<Bound> bind_named(BindContext& ctx, const BindRequest& req, std::string_view kind);

// Shared by the kinds: attaches `req`'s agent to `ep` (pool join or takeover).
std::vector<Member> attach_member(Endpoint& ep, const BindRequest& req);

// The kinds (one file each).
Result<Bound> bind_tcp(BindContext& ctx, const BindRequest& req);
Result<Bound> bind_http(BindContext& ctx, const BindRequest& req);
Result<Bound> bind_udp(BindContext& ctx, const BindRequest& req);  // udp_endpoint.cpp
Result<Bound> bind_private(BindContext& ctx, const BindRequest& req);
Result<Bound> bind_tls(BindContext& ctx, const BindRequest& req);
Result<Bound> bind_exit(BindContext& ctx, const BindRequest& req);  // exit_endpoint.cpp

}  // namespace porthole::relay
