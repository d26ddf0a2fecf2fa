// Private endpoints: a name with no public listener at all. Nothing reaches it but a
// `porthole connect NAME` session whose token may (connect_join.cpp). Names are owned by the
// token that registered them first (SQLite private_names), like HTTP host names; exits
// (exit_endpoint.cpp) share the names and this registration.
#include <spdlog/spdlog.h>

#include "core/hostname.hpp"
#include "relay/endpoint_kinds.hpp"
#include "relay/exit_endpoint.hpp"
#include "relay/relay_exit.hpp"
#include "relay/scopes.hpp"

namespace porthole::relay {

namespace {

class PrivateNameEndpoint final : public Endpoint {
 public:
  PrivateNameEndpoint(const std::string& name, std::string token, bool exit)
      : Endpoint("private", name, std::move(token), (exit ? "exit://" : "private://") + name) {}
};

}  // namespace

Result<Bound> bind_private_name(BindContext& ctx, const BindRequest& req, bool exit) {
  auto name = normalize_private_name(req.bind.private_name);
  if (!name) {
    return make_error("{} {}: {}", exit ? "exit" : "--private", req.bind.private_name, name.error().message);
  }
  if (*name == kRelayExitName) {
    return make_error(Errc::forbidden, "the private name {} is reserved (porthole socks --via relay is the relay's own exit)",
                      *name);
  }
  if (!private_allowed(req.token.scopes, *name)) {
    return make_error(Errc::forbidden, "this token may not register the private name {} (allowed: {})", *name,
                      req.token.scopes.allow_private);
  }
  if (auto r = ctx.store.claim_private_name(*name, req.token.name, req.bind.tunnel); !r) {
    return Error{r.error().message, Errc::conflict};
  }
  if (auto ep = ctx.registry.find("private", *name)) {
    if (ep->token() != req.token.name) {
      return make_error(Errc::conflict, "private name {} is held by another token", *name);
    }
    if (is_exit_endpoint(*ep) != exit) {
      return make_error(
          Errc::conflict, "{}",
          exit ? fmt::format("private name {} is served as a private endpoint (porthole tcp --private), "
                             "not an exit",
                             *name)
               : fmt::format("private name {} is served as an exit", *name));
    }
    return Bound{ep, attach_member(*ep, req)};
  }
  auto ep = std::make_shared<PrivateNameEndpoint>(*name, req.token.name, exit);
  auto displaced = attach_member(*ep, req);
  ctx.registry.add(ep, false);
  return Bound{ep, std::move(displaced)};
}

Result<Bound> bind_private(BindContext& ctx, const BindRequest& req) {
  return bind_private_name(ctx, req, false);
}

}  // namespace porthole::relay
