// Token authentication bound to the TLS channel (sans-I/O; libcrypto only).
//
// The agent never sends its token. Both sides derive key = SHA-256("porthole-token-key\0" + token);
// the relay stores only the key. After the TLS 1.3 handshake both ends export the same 32-byte
// channel binding (RFC 8446 exporter, see net::channel_binding), and the agent sends
//   token_id(token)  and  proof = HMAC-SHA256(key, "porthole-auth-v1" + channel_binding).
// The binding is unique per TLS connection, so a recorded proof is useless on any other one,
// and a man-in-the-middle (who terminates TLS himself) sees a different binding.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace porthole::proto {

using Key = std::array<std::uint8_t, 32>;

inline constexpr std::size_t kTokenIdLength = 16;  // hex characters
inline constexpr std::size_t kProofLength = 32;    // bytes
inline constexpr std::string_view kTokenPrefix = "ph_";

// 16 hex chars: the first 8 bytes of SHA-256("porthole-token-id\0" + token). Public; names the
// token in logs, the store and the handshake.
std::string token_id(std::string_view token);

// SHA-256("porthole-token-key\0" + token): what the relay stores instead of the token.
Key token_key(std::string_view token);

// HMAC-SHA256(key, "porthole-auth-v1" + channel_binding).
Key auth_proof(const Key& key, std::span<const std::uint8_t> channel_binding);

// Recomputes the proof and compares in constant time. False for a proof of the wrong length.
bool verify_proof(const Key& key, std::span<const std::uint8_t> channel_binding,
                  std::span<const std::uint8_t> proof);

// A new random token: "ph_" + base64url(32 random bytes) (46 characters, URL- and shell-safe).
// Throws std::runtime_error only if the system RNG fails (never on untrusted input).
std::string generate_token();

// True when `id` has the shape token_id() produces (16 lowercase hex characters).
bool is_token_id(std::string_view id);

}  // namespace porthole::proto
