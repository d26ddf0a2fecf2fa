// Host names for HTTP endpoints: normalisation (case, trailing dot, IDN → punycode A-labels
// with libidn2), validation, wildcard matching and random readable names. Pure functions, no
// I/O; every byte sequence is either normalised or refused with a message (never a crash).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace porthole {

inline constexpr std::size_t kMaxHostnameLength = 253;  // without the trailing dot
inline constexpr std::size_t kMaxLabelLength = 63;

// Lowercases ASCII, strips one trailing dot, converts UTF-8 labels to A-labels (UTS #46
// non-transitional with NFC, falling back to transitional: "bücher.example" →
// "xn--bcher-kva.example") and checks: at most 253 characters, labels of 1 to 63 characters
// of [a-z0-9-] not starting or ending with '-', a last label that is not all digits (an IP
// address is not a host name). With `allow_wildcard`, the whole first label may be '*'
// ("*.example.test"). Errors are short phrases naming the label ("label 'x-' ends with '-'")
// and are valid UTF-8 whatever the input (bytes that are not are shown as \xNN).
Result<std::string> normalize_hostname(std::string_view name, bool allow_wildcard);

// Whether `pattern` covers `host`; both normalised. An exact name matches itself; "*.S"
// matches every name with one or more labels before S ("a.S", "a.b.S"), never S itself.
bool hostname_matches(std::string_view pattern, std::string_view host);

// Orders patterns that match the same host: the larger wins. Exact names are INT_MAX, "*.S"
// the number of labels of S ("*.example.test" = 2, "*.test" = 1).
int wildcard_specificity(std::string_view pattern);

// "adjective-animal-NN" (e.g. "calm-otter-42"), one valid label, the same for the same input:
// 64 adjectives x 64 animals x 90 numbers (10..99) = 368,640 names.
std::string random_readable_name(std::uint64_t random);

// "sub.domain", both normalised: `subdomain` is one or more labels (no wildcard), `domain` is
// the relay's --domain. Errors name which of the two is wrong.
Result<std::string> subdomain_host(std::string_view subdomain, std::string_view domain);

// A private (site-to-site) endpoint name, as `porthole tcp --private NAME` and `porthole
// connect NAME` (ssh's %h) give it: lowercased, 1 to 63 characters of [a-z0-9._-] starting
// and ending with a letter or digit ("pi", "db-1", "office.nas").
Result<std::string> normalize_private_name(std::string_view name);

}  // namespace porthole
