#include "relay/endpoint_kinds.hpp"

namespace porthole::relay {

namespace {
constexpr EndpointKind kEndpointKinds[] = {
    {"tcp", bind_tcp},
    {"http", bind_http},
    {"udp", bind_udp},
    {"private", bind_private},
    {"tls", bind_tls},
    {"exit", bind_exit},  // exit_endpoint.cpp: a private name served by `porthole exit`
};
}  // namespace

const EndpointKind* find_endpoint_kind(std::string_view proto) {
  for (const auto& k : kEndpointKinds) {
    if (k.proto == proto) return &k;
  }
  return nullptr;
}

std::string endpoint_kind_names() {
  std::string out;
  for (const auto& k : kEndpointKinds) out += fmt::format("{}{}", out.empty() ? "" : ", ", k.proto);
  return out;
}

std::vector<Member> attach_member(Endpoint& ep, const BindRequest& req) {
  const auto balance = req.bind.pool == "least-conn" ? Balance::least_conn : Balance::round_robin;
  return ep.attach(req.member, !req.bind.pool.empty(), balance);
}

}  // namespace porthole::relay
