// The agent's known-relays file (like ssh's known_hosts): one line per relay,
//   HOST:PORT SHA256-hex
// '#' starts a comment. A relay's certificate fingerprint is recorded the first time the agent
// connects to it (trust on first use); a different certificate later is a loud error.
// Lives in net because verify_relay_certificate (net/tls_context) uses it; agent/known_relays.hpp
// re-exports it for the agent.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace porthole::net {

struct KnownRelay {
  std::string relay;        // normalised HOST:PORT ("[::1]:7000" for IPv6)
  std::string fingerprint;  // 64 lowercase hex characters
  int line = 0;             // 1-based line in the file
};

// Parses the file's text. Lines that do not parse are reported in `bad_lines` (1-based) and
// otherwise ignored, so one damaged line does not lock the agent out of every relay.
std::vector<KnownRelay> parse_known_relays(std::string_view text, std::vector<int>* bad_lines = nullptr);

// $XDG_CONFIG_HOME/porthole/known_relays, else $HOME/.config/porthole/known_relays.
std::string default_known_relays_path();

// "host:port" as the file keys it (lowercase host, IPv6 bracketed). Fails on a bad address.
Result<std::string> known_relay_key(std::string_view relay_address);

enum class TofuOutcome { matched, recorded };

// Trust on first use: if `file` (empty = default path) has lines for `relay_address`, the
// fingerprint must equal one of them (else a loud "RELAY IDENTITY HAS CHANGED" error naming the
// file and line to delete, the expected and the presented fingerprint). With no line, the
// fingerprint is appended (creating the file 0600 and its directory 0700) and logged.
Result<TofuOutcome> check_known_relay(const std::string& file, std::string_view relay_address,
                                      std::string_view fingerprint);

}  // namespace porthole::net
