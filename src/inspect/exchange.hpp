// One captured HTTP exchange: what the agent received from the relay for a visitor and what the
// local service answered. Plain data; made on the data path (agent/http_tunnel.cpp), kept in the
// Store, shown by the agent API and the inspector page.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
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
  bool upgraded = false;  // 101: the connection went on raw (bytes after it are not captured)

  // Bytes this exchange holds (what the memory cap counts).
  std::size_t memory() const;
};

using ExchangePtr = std::shared_ptr<const Exchange>;

}  // namespace porthole::inspect
