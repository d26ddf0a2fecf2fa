// The stream multiplexer of a session, sans-I/O: feed() it the bytes read from the transport,
// it reports events to a MuxHandler; stream operations append frames to an output buffer the
// caller writes to the transport (take_output()). No sockets, no timers, no threads.
//
// Flow control is per stream: each side may have at most `initial_window` unacknowledged
// bytes in flight on a stream; the receiver returns credit with WINDOW frames as the
// application consumes data. Opening a stream costs no round trip (OPEN may be followed by
// DATA at once). Ids: the relay (server) opens even ids, the agent (client) odd ids.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "proto/frame.hpp"

namespace porthole::proto {

enum class Role { client, server };

// Reset codes carried in RESET frames.
enum class ResetCode : std::uint32_t {
  cancel = 0,         // the opener gave up
  refused = 1,        // the local service refused or could not be dialed
  no_such_tunnel = 2, // OPEN named an unknown tunnel
  protocol = 3,       // a protocol violation on this stream
  shutdown = 4,       // the peer is shutting down
  timed_out = 5,      // the local service did not answer in time
  forbidden = 6,      // not allowed (a token's scope: a private name it may not reach)
};

// The error kind a RESET code stands for, and back (unknown codes are Errc::cancelled).
Errc errc_of(std::uint32_t reset_code);
ResetCode reset_code_of(Errc code);

class MuxHandler {
 public:
  virtual ~MuxHandler() = default;
  virtual void on_open(StreamId id, std::string_view metadata) = 0;
  virtual void on_data(StreamId id, std::span<const std::uint8_t> data) = 0;
  virtual void on_fin(StreamId id) = 0;
  virtual void on_reset(StreamId id, std::uint32_t code, std::string_view reason) = 0;
  virtual void on_window(StreamId id) = 0;  // send credit grew
  virtual void on_control(std::string_view message) = 0;
  virtual void on_ping(std::uint64_t payload, bool ack) = 0;
  virtual void on_goaway(std::uint32_t code, std::string_view reason) = 0;
  // One whole datagram on an open stream (a UDP flow). Default: dropped.
  virtual void on_datagram(StreamId /*id*/, std::span<const std::uint8_t> /*datagram*/) {}
};

struct MuxOptions {
  std::uint32_t initial_window = 1024 * 1024;
  std::uint32_t max_streams = 100000;
  Limits limits;
};

class Mux {
 public:
  Mux(Role role, MuxOptions options = {});

  // Input: parses frames and calls the handler. An error is a protocol violation: the
  // caller logs it, counts it and closes the session.
  Result<void> feed(std::span<const std::uint8_t> bytes, MuxHandler& handler);

  // Stream operations (append frames to the output).
  Result<StreamId> open(std::string_view metadata);
  std::uint32_t send_credit(StreamId id) const;  // bytes that may be sent now (0 if closed)
  std::uint32_t max_chunk() const { return options_.limits.max_data_payload; }
  // Sends up to min(data.size(), send_credit, max_chunk) bytes; returns how many.
  std::size_t write(StreamId id, std::span<const std::uint8_t> data);
  // The same without copying the payload: appends only the DATA header for the n bytes it
  // returns; the caller must send exactly those bytes of its own right after take_output()'s.
  // With `fin`, a frame that carries all `len` bytes also ends the stream (DATA + FIN in one
  // frame: a whole small message is one frame).
  std::size_t write_header(StreamId id, std::size_t len, bool fin = false);
  // One whole datagram on stream `id` (a UDP flow), outside flow control: appends the frame
  // header only, the caller sends the payload right after take_output()'s bytes (as with
  // write_header). False (nothing appended) when the stream is not open or the datagram is
  // over the limit (65,507 bytes).
  bool write_datagram_header(StreamId id, std::size_t len);
  // The same with the payload copied into the output (datagrams are small and batch: many go
  // out in one TLS write).
  bool write_datagram(StreamId id, std::span<const std::uint8_t> datagram);
  void shutdown(StreamId id);  // FIN: no more data from us
  void reset(StreamId id, ResetCode code, std::string_view reason);
  // The application consumed `n` received bytes: may emit a WINDOW frame.
  void consume(StreamId id, std::size_t n);

  // Session-level messages.
  void control(std::string_view message);
  void ping(std::uint64_t payload, bool ack = false);
  void goaway(std::uint32_t code, std::string_view reason);

  // Output.
  bool has_output() const { return !out_.empty(); }
  std::size_t output_size() const { return out_.size(); }
  // Swaps the pending output into `into` (cleared first), keeping its capacity for reuse.
  void take_output(std::vector<std::uint8_t>& into);

  bool is_open(StreamId id) const { return streams_.contains(id); }
  std::size_t stream_count() const { return streams_.size(); }

 private:
  struct Stream {
    std::uint32_t send_credit;
    std::uint32_t recv_window;   // bytes the peer may still send
    std::uint32_t unacked = 0;   // consumed but not yet returned as credit
    bool sent_fin = false;
    bool got_fin = false;
  };

  Result<void> on_frame(const FrameHeader& h, std::span<const std::uint8_t> payload, MuxHandler& handler);
  Result<void> on_open_frame(StreamId id, std::span<const std::uint8_t> payload, MuxHandler& handler);
  Result<void> on_data_frame(const FrameHeader& h, std::span<const std::uint8_t> payload, MuxHandler& handler);
  bool is_local_id(StreamId id) const { return (id % 2 == 0) == (role_ == Role::server); }
  bool was_used(StreamId id) const;  // an id this session already saw (now closed)
  void maybe_forget(StreamId id);

  Role role_;
  MuxOptions options_;
  FrameDecoder decoder_;
  std::unordered_map<StreamId, Stream> streams_;
  StreamId next_local_;
  StreamId highest_remote_ = 0;
  std::vector<std::uint8_t> out_;
};

}  // namespace porthole::proto
