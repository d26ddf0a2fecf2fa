// Does the local nftables ruleset let a new inbound TCP connection to PORT in? Evaluates the
// JSON of `nft -j list ruleset` (pure): base chains on the input hook (ip and inet families), in
// priority order, following jumps. Matches it does not understand (addresses, interfaces other
// than lo, xt compat rules, limits) count as "maybe", which turns a drop into maybe_blocked.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/result.hpp"
#include "diag/facts.hpp"

namespace porthole::diag {

Result<FirewallFact> evaluate_nft_ruleset(std::string_view json_text, std::uint16_t port);

}  // namespace porthole::diag
