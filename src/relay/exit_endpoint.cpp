// The endpoint kind "exit" (one line in kEndpointKinds): a private name served by exit agents.
#include "relay/exit_endpoint.hpp"

namespace porthole::relay {

bool is_exit_endpoint(const Endpoint& ep) {
  return ep.public_url().starts_with("exit://");
}

Result<Bound> bind_exit(BindContext& ctx, const BindRequest& req) {
  return bind_private_name(ctx, req, true);
}

}  // namespace porthole::relay
