// The router layer's public API: find the default gateway and this machine's LAN address, ask
// the router (PCP, NAT-PMP, UPnP IGD) what it speaks and what its external address is, and add,
// remove and list port mappings. Used by `porthole map` and `porthole doctor`.
//
// Every call that talks to the router is blocking and bounded by Options::timeout per method.
// Mappings always point at this machine's own LAN address (Gateway::lan_address); nothing here
// can map to another host.
//
// "ours": a mapping is ours when porthole made it. porthole records every mapping it makes in a
// small state file (Options::state_file, default $XDG_STATE_HOME/porthole/mappings.json, else
// ~/.local/state/porthole/mappings.json) and gives UPnP mappings a description starting with
// "porthole". A listed mapping is ours when its description starts with "porthole", or when the
// state file holds a mapping with the same protocol, external port and internal address.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"

namespace porthole::router {

enum class Method { auto_, upnp, natpmp, pcp };
enum class Protocol { tcp, udp };

std::string_view to_string(Method m);    // "auto", "upnp", "natpmp", "pcp"
std::string_view to_string(Protocol p);  // "tcp", "udp"
Result<Method> parse_method(std::string_view text);
// "EXTPORT[:INTPORT]" -> {external, internal}; internal defaults to external. Ports 1..65535.
Result<std::pair<std::uint16_t, std::uint16_t>> parse_port_pair(std::string_view text);

// Prefix of the description porthole gives its UPnP mappings (and the default description).
inline constexpr std::string_view kDescriptionPrefix = "porthole";

// ---- gateway & LAN -------------------------------------------------------------------------
struct Gateway {
  std::string interface;    // e.g. "eth0"
  std::string gateway;      // default IPv4 gateway, e.g. "192.168.1.1"
  std::string lan_address;  // this machine's IPv4 address on `interface`
  int prefix_length = 0;    // of lan_address, e.g. 24
  bool lan_is_private = false;  // lan_address in 10/8, 172.16/12, 192.168/16
  bool overridden = false;      // gateway came from Options::gateway, not the routing table
};

// Reads the default IPv4 route (/proc/net/route; netlink-free) and the interface's address.
Result<Gateway> discover_gateway();
// Same, but with the gateway given: the LAN address is the local address on the interface whose
// subnet contains `gateway` (or the default route's interface when none does).
Result<Gateway> gateway_for(std::string_view gateway);

// True when `addr` (dotted IPv4) lies in lan/prefix. False on parse errors.
bool same_subnet(std::string_view addr, std::string_view lan, int prefix_length);
// Address classification used by doctor: RFC 1918, CGNAT 100.64/10, other reserved ranges.
bool is_private_ipv4(std::string_view addr);
bool is_cgnat_ipv4(std::string_view addr);
bool is_public_ipv4(std::string_view addr);  // parses, and not private/CGNAT/loopback/reserved

struct Options {
  std::optional<std::string> gateway;          // override discovery (e.g. "10.0.0.1")
  std::chrono::milliseconds timeout{2000};     // per method and per request
  std::optional<std::string> state_file;       // where "ours" is recorded (see top of file)
};

// ---- probe --------------------------------------------------------------------------------
struct MethodProbe {
  Method method = Method::pcp;
  bool answered = false;      // something valid came back from the router (success or refusal)
  bool ok = false;            // the router reported an external address
  std::string error;          // why not ok: "no answer within 2000 ms", "NOT_AUTHORIZED: ..."
  std::string external_ip;    // when ok
  std::optional<std::uint32_t> epoch;  // PCP / NAT-PMP seconds since router start
  std::string detail;         // e.g. UPnP: control URL and "IGD connected"/"IGD not connected"
};

struct ProbeReport {
  Gateway gateway;
  std::vector<MethodProbe> methods;  // always pcp, natpmp, upnp in that order
  // First method that is ok, if any.
  const MethodProbe* first_ok() const;
};

// Asks all three methods (in parallel would be nicer; today in turn, each with Options::timeout).
Result<ProbeReport> probe(const Options& opts);

// ---- mappings -----------------------------------------------------------------------------
struct MappingRequest {
  std::uint16_t external_port = 0;
  std::uint16_t internal_port = 0;  // 0 = same as external_port
  Protocol protocol = Protocol::tcp;
  std::uint32_t lease_seconds = 3600;  // 0 = permanent where the method allows (UPnP)
  std::string description = std::string(kDescriptionPrefix);
  Method method = Method::auto_;
};

struct Mapping {
  Method method = Method::upnp;  // how it was made (or, in list(), how it was read)
  Protocol protocol = Protocol::tcp;
  std::uint16_t external_port = 0;
  std::uint16_t internal_port = 0;
  std::string internal_address;
  std::string external_address;   // when known
  std::string remote_host;        // UPnP: "" = any
  std::uint32_t lease_seconds = 0;  // granted / remaining; 0 = permanent
  std::string description;
  bool enabled = true;
  bool ours = false;
  std::optional<std::uint32_t> epoch;  // PCP / NAT-PMP epoch in the reply
};

class Client {
 public:
  // Discovers (or takes) the gateway. Talks to nothing else yet.
  static Result<Client> open(const Options& opts);

  const Gateway& gateway() const { return gw_; }
  const Options& options() const { return opts_; }

  // Maps external_port -> lan_address:internal_port. With Method::auto_ tries PCP, NAT-PMP,
  // then UPnP, and the error lists why each one failed. Records the mapping as ours.
  Result<Mapping> add(const MappingRequest& req);
  // Removes the mapping. With auto_: the method recorded in the state file, else every method.
  Result<void> remove(std::uint16_t external_port, Protocol protocol, Method method = Method::auto_);
  // Every mapping the router reports (UPnP listing), merged with porthole's recorded ones.
  Result<std::vector<Mapping>> list(Method method = Method::auto_);
  // The router's external address. auto_ tries PCP, NAT-PMP, UPnP; the error says why each failed.
  Result<std::string> external_ip(Method method = Method::auto_);
  // Is this mapping (still) in place on the router? UPnP: GetSpecificPortMappingEntry.
  // PCP/NAT-PMP have no query, so this re-requests the mapping and reports what came back.
  Result<Mapping> check(const Mapping& m);

 private:
  Client(Options o, Gateway g) : opts_(std::move(o)), gw_(std::move(g)) {}
  Options opts_;
  Gateway gw_;
};

// ---- lease keeping -------------------------------------------------------------------------
// Pure scheduling: when to renew and whether the router lost its state. No clocks read here.
struct LeaseState {
  std::chrono::steady_clock::time_point granted_at{};
  std::uint32_t lifetime_seconds = 0;  // 0 = permanent (UPnP): re-check periodically
  std::optional<std::uint32_t> epoch;  // router's epoch in the last reply
};

// Renew at half-life (at least 1 s); permanent leases are re-checked every recheck_seconds.
std::chrono::steady_clock::time_point next_renewal(const LeaseState& s,
                                                   std::uint32_t recheck_seconds = 60);
// RFC 6887 §8.5 / RFC 6886 §3.6: the router restarted (and lost mappings) when its epoch went
// backwards by more than 1 s, or advanced too little compared to local time.
bool router_restarted(std::uint32_t prev_epoch, std::chrono::steady_clock::time_point prev_local,
                      std::uint32_t new_epoch, std::chrono::steady_clock::time_point new_local);

// Delay before retrying after the n-th consecutive failure (1, 2, 4 … capped at 30 s).
std::chrono::seconds retry_backoff(int failures);

struct KeeperOptions {
  bool keep = false;               // leave the mapping in place on exit
  std::uint32_t recheck_seconds = 60;  // for permanent (lease 0) UPnP mappings
  // Called after each successful (re)map with a human line, e.g. "renewed tcp 8080 (lease 3600s)".
  std::function<void(const Mapping&, std::string_view what)> on_event;
};

// Holds a mapping until SIGINT/SIGTERM: renews at half-life, maps again after a router restart
// (epoch went backwards; UPnP mapping gone), removes the mapping on exit unless opts.keep.
// Returns 0 on a clean exit, 1 when the mapping could not be made in the first place.
int keep_mapping(Client& client, const MappingRequest& req, const KeeperOptions& opts);

}  // namespace porthole::router
