// Client: composes PCP, NAT-PMP and UPnP (backends.hpp) into add / remove / list / external-ip /
// check, records porthole's own mappings in the state file, and runs the three-way probe.
#include <algorithm>
#include <future>

#include <spdlog/spdlog.h>

#include "router/backends.hpp"

namespace porthole::router {
namespace {

using detail::Record;

constexpr std::uint32_t kDefaultPmpLease = 7200;  // PCP/NAT-PMP have no "permanent"

std::vector<Method> order(Method m) {
  if (m == Method::auto_) return {Method::pcp, Method::natpmp, Method::upnp};
  return {m};
}

std::string state_path(const Options& o) {
  return o.state_file ? *o.state_file : detail::default_state_path();
}

auto find_record(std::vector<Record>& rs, Protocol p, std::uint16_t ext, const std::string& lan) {
  return std::find_if(rs.begin(), rs.end(), [&](const Record& r) {
    return r.protocol == p && r.external_port == ext && r.internal_address == lan;
  });
}

std::string join_errors(const std::vector<std::string>& errs) {
  std::string s;
  for (const auto& e : errs) s += (s.empty() ? "" : "; ") + e;
  return s;
}

}  // namespace

Result<Client> Client::open(const Options& opts) {
  auto gw = opts.gateway ? gateway_for(*opts.gateway) : discover_gateway();
  if (!gw) return gw.error();
  return Client(opts, *gw);
}

Result<Mapping> Client::add(const MappingRequest& in) {
  if (in.external_port == 0) return make_error("external port must be 1..65535");
  MappingRequest req = in;
  if (req.internal_port == 0) req.internal_port = req.external_port;
  detail::Ctx ctx{gw_, opts_.timeout};
  auto path = state_path(opts_);
  auto records = detail::load_records(path);
  auto rec = find_record(records, req.protocol, req.external_port, gw_.lan_address);
  std::vector<std::string> errors;
  for (Method m : order(req.method)) {
    Result<Mapping> r = make_error("unreachable");
    std::string nonce_hex;
    std::uint32_t lease = req.lease_seconds ? req.lease_seconds : kDefaultPmpLease;
    if (m == Method::pcp) {
      auto nonce = rec != records.end() && rec->method == Method::pcp ? detail::nonce_from_hex(rec->nonce_hex)
                                                                      : std::nullopt;
      if (!nonce) nonce = detail::pcp_random_nonce();
      nonce_hex = detail::nonce_to_hex(*nonce);
      r = detail::pcp_map(ctx, req, *nonce, lease);
    } else if (m == Method::natpmp) {
      r = detail::natpmp_map(ctx, req, lease);
    } else {
      r = detail::upnp_add(ctx, req);
    }
    if (!r) {
      spdlog::debug("map add via {}: {}", to_string(m), r.error().message);
      errors.push_back(r.error().message);
      continue;
    }
    Record nr{m,           req.protocol, r->external_port, r->internal_port, gw_.lan_address,
              gw_.gateway, nonce_hex,    req.description,  r->lease_seconds};
    // The router may grant another external port (PCP/NAT-PMP): key the record by the granted one.
    auto saved = detail::update_records(path, [&](std::vector<Record>& now) {
      std::erase_if(now, [&](const Record& x) {
        return x.protocol == nr.protocol && x.internal_address == nr.internal_address &&
               (x.external_port == nr.external_port || x.external_port == req.external_port);
      });
      now.push_back(nr);
    });
    if (!saved) spdlog::warn("router: {}", saved.error().message);
    return r;
  }
  return make_error("{}", join_errors(errors));
}

Result<void> Client::remove(std::uint16_t ext, Protocol p, Method method) {
  detail::Ctx ctx{gw_, opts_.timeout};
  auto path = state_path(opts_);
  auto records = detail::load_records(path);
  auto rec = find_record(records, p, ext, gw_.lan_address);
  Method m = method;
  if (m == Method::auto_) m = rec != records.end() ? rec->method : Method::upnp;
  Result<void> r;
  if (m == Method::pcp) {
    auto nonce = rec != records.end() ? detail::nonce_from_hex(rec->nonce_hex) : std::nullopt;
    if (!nonce)
      return make_error("PCP: no record of this mapping's nonce; the router will refuse to delete it");
    MappingRequest req;
    req.external_port = ext;
    req.internal_port = rec->internal_port;
    req.protocol = p;
    auto x = detail::pcp_map(ctx, req, *nonce, 0);
    if (!x) r = x.error();
  } else if (m == Method::natpmp) {
    MappingRequest req;
    req.external_port = ext;
    req.internal_port = rec != records.end() ? rec->internal_port : ext;
    req.protocol = p;
    auto x = detail::natpmp_map(ctx, req, 0);
    if (!x) r = x.error();
  } else {
    r = detail::upnp_remove(ctx, ext, p);
  }
  if (r && rec != records.end()) {
    auto saved = detail::update_records(path, [&](std::vector<Record>& now) {
      auto it = find_record(now, p, ext, gw_.lan_address);
      if (it != now.end()) now.erase(it);
    });
    if (!saved) spdlog::warn("router: {}", saved.error().message);
  }
  return r;
}

Result<std::vector<Mapping>> Client::list(Method method) {
  detail::Ctx ctx{gw_, opts_.timeout};
  auto records = detail::load_records(state_path(opts_));
  auto mark = [&](Mapping& m) {
    bool described = m.description.rfind(kDescriptionPrefix, 0) == 0;
    m.ours =
        described || find_record(records, m.protocol, m.external_port, m.internal_address) != records.end();
  };
  Result<std::vector<Mapping>> listed = make_error("UPnP listing not asked for");
  if (method == Method::auto_ || method == Method::upnp) listed = detail::upnp_list(ctx);
  if (listed) {
    for (auto& m : *listed) mark(m);
    return listed;
  }
  if (method == Method::upnp) return listed.error();
  // PCP and NAT-PMP cannot list: show what porthole recorded for this gateway.
  std::vector<Mapping> out;
  for (const auto& r : records) {
    if (r.gateway != gw_.gateway || (method != Method::auto_ && r.method != method)) continue;
    Mapping m;
    m.method = r.method;
    m.protocol = r.protocol;
    m.external_port = r.external_port;
    m.internal_port = r.internal_port;
    m.internal_address = r.internal_address;
    m.lease_seconds = r.lease_seconds;
    m.description = r.description;
    m.ours = true;
    out.push_back(std::move(m));
  }
  if (out.empty() && method == Method::auto_) return listed.error();
  return out;
}

Result<std::string> Client::external_ip(Method method) {
  detail::Ctx ctx{gw_, opts_.timeout};
  std::vector<std::string> errors;
  for (Method m : order(method)) {
    MethodProbe p = m == Method::pcp      ? detail::pcp_probe(ctx)
                    : m == Method::natpmp ? detail::natpmp_probe(ctx)
                                          : detail::upnp_probe(ctx);
    if (p.ok) return p.external_ip;
    errors.push_back(p.error);
  }
  return make_error("{}", join_errors(errors));
}

Result<Mapping> Client::check(const Mapping& m) {
  detail::Ctx ctx{gw_, opts_.timeout};
  if (m.method == Method::upnp) {
    auto r = detail::upnp_get(ctx, m.external_port, m.protocol);
    if (!r) return r;
    if (r->internal_address != gw_.lan_address || r->internal_port != m.internal_port) {
      return make_error("UPnP: {} {} now points at {}:{}", to_string(m.protocol), m.external_port,
                        r->internal_address, r->internal_port);
    }
    return r;
  }
  MappingRequest req;
  req.external_port = m.external_port;
  req.internal_port = m.internal_port;
  req.protocol = m.protocol;
  req.lease_seconds = m.lease_seconds ? m.lease_seconds : kDefaultPmpLease;
  req.description = m.description;
  req.method = m.method;
  return add(req);
}

Result<ProbeReport> probe(const Options& opts) {
  auto c = Client::open(opts);
  if (!c) return c.error();
  ProbeReport rep;
  rep.gateway = c->gateway();
  detail::Ctx ctx{rep.gateway, opts.timeout};
  // The three methods use separate sockets: ask them at once so a probe costs one timeout.
  auto pcp = std::async(std::launch::async, [&] { return detail::pcp_probe(ctx); });
  auto pmp = std::async(std::launch::async, [&] { return detail::natpmp_probe(ctx); });
  auto upnp = detail::upnp_probe(ctx);
  rep.methods = {pcp.get(), pmp.get(), std::move(upnp)};
  return rep;
}

}  // namespace porthole::router
