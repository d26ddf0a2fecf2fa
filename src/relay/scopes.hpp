// Token scopes: what a token may ask the relay for. Pure functions, no I/O.
// An empty scope allows anything. Globs: '*' any run of characters, '?' one character,
// case-insensitive; a comma-separated list matches when any of its globs does.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/address.hpp"
#include "core/result.hpp"

namespace porthole::relay {

struct Scopes {
  std::string allow_subdomain;          // glob list for HTTP subdomains, "" = any
  std::string allow_hostname;           // glob list for custom HTTP host names, "" = any
  std::optional<PortRange> allow_port;  // public TCP/UDP ports, nullopt = any
  std::string allow_private;            // glob list for private (site-to-site) names, "" = any
  std::string allow_connect;            // glob list of private names it may reach, "" = its own only
  std::string allow_exit;               // glob list of exits it may use ("relay": the relay's), "" = its own only
  friend bool operator==(const Scopes&, const Scopes&) = default;
};

bool glob_match(std::string_view pattern, std::string_view text);
// True when any comma-separated glob of `list` matches `text` (an empty list matches all).
bool glob_list_match(std::string_view list, std::string_view text);

bool subdomain_allowed(const Scopes& s, std::string_view subdomain);
bool port_allowed(const Scopes& s, std::uint16_t port);
bool private_allowed(const Scopes& s, std::string_view name);
// May a token reach the private name `name` with `porthole connect`? Its own names (`own`:
// the token holds the name) always; others only through a non-empty allow_connect that
// matches. An empty allow_connect is not "any" here: reaching another token's private service
// must be granted explicitly (`--allow-connect '*'` for all).
bool connect_allowed(const Scopes& s, std::string_view name, bool own);
// May a token send traffic through the exit `name` (`porthole socks --via NAME`)? Its own exits
// (`own`) always; another token's when allow_exit matches the name, or — the older way, kept so
// tokens made before --allow-exit keep working — allow_connect does. The relay's own exit
// ("relay", relay_exit.hpp) only through allow_exit, never through allow_connect.
bool exit_allowed(const Scopes& s, std::string_view name, bool own);
// `host` is normalised (core/hostname.hpp), IDN labels in their xn-- form. A wildcard host
// "*.S" covers every name under S, so it is allowed only by a glob that allows all of them: one
// starting with '*' that matches ".S" ('*.example.test' or '*' allow '*.example.test'; 'a*',
// '?.example.test' and 'shop.example.test' do not).
bool hostname_allowed(const Scopes& s, std::string_view host);

// The ports a token may get from the relay's range (--tcp-ports): their intersection, nullopt
// when they do not overlap. This is how a token's allow_port applies (docs/security.md); do not
// use allow_port on its own.
std::optional<PortRange> allowed_port_range(const Scopes& s, PortRange relay_range);

// Validates the flag/column text ("" for any): globs of [A-Za-z0-9*?._-] (host names: without
// '_') with ',' between globs, port "LO-HI" or "PORT". Errors name the flag.
Result<Scopes> parse_scopes(std::string_view allow_subdomain, std::string_view allow_port,
                            std::string_view allow_private, std::string_view allow_hostname,
                            std::string_view allow_connect = {}, std::string_view allow_exit = {});

// "LO-HI" ("" for any).
std::string format_port_scope(const std::optional<PortRange>& r);
// A one-line summary: "subdomain=app-* hostname=*.example.test port=20000-20010", or "any".
std::string describe(const Scopes& s);

}  // namespace porthole::relay
