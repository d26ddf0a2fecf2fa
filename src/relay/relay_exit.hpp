// The relay as the exit (`porthole socks --via relay`): a socks stream whose OPEN names the exit
// "relay" is connected by the relay itself, to the destinations relay.toml's `[exit] allow_dest`
// lists and nowhere else (none by default). The check and the connection are those of every
// agent exit (egress/exit_dial.hpp): resolved address, every address, special ranges and the
// relay's own addresses refused unless listed narrowly. The token needs the scope
// `--allow-exit relay` (or a glob matching it); `--allow-connect` never grants the relay's exit.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "config/model.hpp"
#include "relay/store.hpp"
#include "session/session.hpp"

namespace porthole::relay {

// The exit name of the relay itself; no agent may register it as a private name.
inline constexpr std::string_view kRelayExitName = "relay";

// Serves one socks stream of `token`'s session for `target` (HOST:PORT): refusals reset it with
// `forbidden` and a reason the socks side prints (SOCKS 0x02, HTTP 403); connected, one byte
// 0x00 and the stream is pumped to the destination.
// A stream with transport "udp" is one SOCKS5 UDP association instead (egress/exit_udp.hpp).
void join_relay_exit(const config::RelayConfig& cfg, const TokenRecord& token, const std::string& client,
                     std::shared_ptr<session::MuxStream> stream, std::string_view target, std::string_view transport);

}  // namespace porthole::relay
