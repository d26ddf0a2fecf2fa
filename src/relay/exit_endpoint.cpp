// The endpoint kind "exit" (one line in kEndpointKinds): a private name served by exit agents.
#include "relay/exit_endpoint.hpp"

#include "core/hostname.hpp"
#include "relay/endpoint_kinds.hpp"
#include "relay/scopes.hpp"

namespace porthole::relay {

namespace {

class ExitEndpoint final : public Endpoint {
 public:
  ExitEndpoint(const std::string& name, std::string token) : Endpoint("private", name, std::move(token), "exit://" + name) {}
};

}  // namespace

bool is_exit_endpoint(const Endpoint& ep) { return ep.public_url().starts_with("exit://"); }

Result<Bound> bind_exit(BindContext& ctx, const BindRequest& req) {
  auto name = normalize_private_name(req.bind.private_name);
  if (!name) return make_error("exit {}: {}", req.bind.private_name, name.error().message);
  if (!private_allowed(req.token.scopes, *name)) {
    return make_error(Errc::forbidden, "this token may not register the private name {} (allowed: {})", *name,
                      req.token.scopes.allow_private);
  }
  if (auto r = ctx.store.claim_private_name(*name, req.token.name, req.bind.tunnel); !r) {
    return Error{r.error().message, Errc::conflict};
  }
  if (auto ep = ctx.registry.find("private", *name)) {
    if (ep->token() != req.token.name) return make_error(Errc::conflict, "private name {} is held by another token", *name);
    if (!is_exit_endpoint(*ep)) {
      return make_error(Errc::conflict, "private name {} is served as a private endpoint (porthole tcp --private), not "
                                        "an exit", *name);
    }
    return Bound{ep, attach_member(*ep, req)};
  }
  auto ep = std::make_shared<ExitEndpoint>(*name, req.token.name);
  auto displaced = attach_member(*ep, req);
  ctx.registry.add(ep, false);
  return Bound{ep, std::move(displaced)};
}

}  // namespace porthole::relay
