// tls endpoints (`porthole tls PORT --hostname H`): TLS passthrough routed by SNI. The relay's
// https listener never decrypts them: the whole connection, ClientHello included, goes to the
// agent as it came (https_listener.cpp), and the agent pumps it to its local TLS service.
// Names, ownership and the route table are the http kind's (bind_named, http_endpoint.cpp).
#include "relay/endpoint_kinds.hpp"

namespace porthole::relay {

Result<Bound> bind_tls(BindContext& ctx, const BindRequest& req) {
  if (ctx.https_port == 0) return make_error("this relay serves no HTTPS (its --https listener is off)");
  return bind_named(ctx, req, "tls");
}

}  // namespace porthole::relay
