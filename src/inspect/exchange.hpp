// One captured HTTP exchange: what the agent received from the relay for a visitor and what the
// local service answered. Plain data; made on the data path (agent/http_tunnel.cpp), kept in the
// Store, shown by the agent API and the inspector page.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "proto/http1.hpp"

namespace porthole::inspect {

// One side of an exchange. The body is kept as it went on the wire (chunked framing included),
// so a replay sends the same bytes; only the first `limit` bytes are kept, the rest is counted.
struct Message {
  std::string head;                       // the serialized head (start line, fields, CRLF CRLF)
  std::vector<proto::http1::Field> headers;
  std::string body;                       // at most the capture limit
  std::uint64_t body_size = 0;            // every body byte seen
  bool chunked = false;                   // Transfer-Encoding: chunked (body holds the framing)
  bool truncated() const { return body_size > body.size(); }
};

// One WebSocket message seen on an upgraded connection (after the 101): a whole message
// (fragments joined) or a control frame. Only the first bytes of the payload are kept.
struct WsMessage {
  bool from_client = false;  // visitor -> local service (masked on the wire)
  std::chrono::system_clock::time_point time;  // when its last frame was read
  std::uint8_t opcode = 0;   // 1 text, 2 binary, 8 close, 9 ping, 10 pong
  std::uint64_t size = 0;    // payload bytes (all fragments)
  std::string payload;       // the first bytes, unmasked (at most WsLimits::preview)
  bool compressed = false;   // RSV1 (permessage-deflate): the payload is as it went, compressed
  int close_code = 0;        // close frames: the status code (0: none given)
};

struct WsLimits {
  std::size_t preview = 256;        // payload bytes kept per message
  std::size_t per_connection = 1000;  // messages kept per connection; later ones are counted
};

// The messages of one upgraded connection. Filled while the connection lives (by the tunnel,
// on the agent's loop), read by the API: the mutex guards every field.
struct WsLog {
  mutable std::mutex mu;
  std::vector<WsMessage> messages;
  std::uint64_t dropped = 0;        // messages not kept (per-connection or total cap)
  std::uint64_t bad_client = 0, bad_server = 0;  // frames that broke RFC 6455 (parsing stopped)
  std::string error;                // the first framing error, if any
  bool closed = false;              // the connection ended
  std::size_t bytes = 0;            // what `messages` holds (counted against the total cap)
  std::function<void(std::size_t)> release;  // gives `bytes` back to the total budget
  WsLog() = default;
  WsLog(const WsLog&) = delete;
  WsLog& operator=(const WsLog&) = delete;
  ~WsLog() {
    if (release) release(bytes);
  }
};

struct Exchange {
  std::string id;           // 16 hex digits, ngrok-style: a per-process prefix and a sequence
  std::uint64_t seq = 0;    // order of capture
  std::string tunnel;
  std::string remote_addr;  // the visitor's IP as the relay saw it (last X-Forwarded-For)
  std::chrono::system_clock::time_point start;
  std::chrono::nanoseconds duration{0};
  std::string method, uri;
  int minor = 1;  // HTTP/1.<minor>
  Message request;
  bool has_response = false;
  int status = 0;
  std::string reason;
  Message response;
  std::string error;      // why the exchange ended without a complete response ("" if it did)
  std::string replay_of;  // the id this was replayed from, or ""
  bool upgraded = false;  // 101: the connection went on raw
  std::shared_ptr<WsLog> ws;  // an upgrade to WebSocket: its messages (null otherwise)

  // Bytes this exchange holds (what the memory cap counts).
  std::size_t memory() const;
};

using ExchangePtr = std::shared_ptr<const Exchange>;

}  // namespace porthole::inspect
