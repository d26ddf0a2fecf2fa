// One agent<->relay session: a TLS connection carrying a Mux. Owns the read loop, heartbeats and
// the output path: mux output is sent as soon as it is made while the socket takes it, and a
// write loop finishes what the socket could not take. Streams are MuxStreams (ByteStream).
// Everything runs on the executor of the TLS socket; no locks.
#pragma once

#include <chrono>
#include <deque>
#include <optional>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/model.hpp"
#include "net/byte_stream.hpp"
#include "net/signal.hpp"
#include "net/tls_socket.hpp"
#include "proto/mux.hpp"

namespace porthole::session {

class MuxStream;
using Clock = std::chrono::steady_clock;

struct SessionOptions {
  config::Heartbeat heartbeat;
  proto::MuxOptions mux;
  std::size_t output_high_water = 512 * 1024;  // stream writers wait above this much queued output
};

struct SessionCallbacks {
  // The peer opened a stream. Not set: every OPEN is refused.
  std::function<void(std::shared_ptr<MuxStream>, std::string_view metadata)> on_open;
  std::function<void(std::string_view message)> on_control;
  std::function<void(std::string_view reason)> on_close;  // once, after close()
};

class Session : public std::enable_shared_from_this<Session>, private proto::MuxHandler {
 public:
  Session(std::unique_ptr<net::TlsSocket> tls, proto::Role role, SessionOptions options, std::string id);
  ~Session() override;

  void set_callbacks(SessionCallbacks cb) { cb_ = std::move(cb); }
  void start();  // spawns the read, write and heartbeat loops

  Result<std::shared_ptr<MuxStream>> open_stream(std::string_view metadata);
  void send_control(std::string_view message);
  // Tells the peer we are going away (no new streams); existing streams go on.
  void goaway(std::string_view reason);
  void close(std::string_view reason);  // idempotent: ends every stream and the connection
  // Sends what is queued (e.g. a final error message), then closes.
  void close_after_flush(std::string_view reason);
  bool closed() const { return closed_; }

  const std::string& id() const { return id_; }
  std::size_t stream_count() const { return streams_.size(); }
  std::chrono::microseconds rtt() const { return rtt_; }
  net::TlsSocket& transport() { return *tls_; }
  std::uint64_t bytes_in() const { return bytes_in_; }
  std::uint64_t bytes_out() const { return bytes_out_; }

 private:
  friend class MuxStream;

  // proto::MuxHandler
  void on_open(proto::StreamId id, std::string_view metadata) override;
  void on_data(proto::StreamId id, std::span<const std::uint8_t> data) override;
  void on_fin(proto::StreamId id) override;
  void on_reset(proto::StreamId id, std::uint32_t code, std::string_view reason) override;
  void on_window(proto::StreamId id) override;
  void on_control(std::string_view message) override;
  void on_ping(std::uint64_t payload, bool ack) override;
  void on_goaway(std::uint32_t code, std::string_view reason) override;
  void on_datagram(proto::StreamId id, std::span<const std::uint8_t> datagram) override;

  net::Task<void> read_loop();
  net::Task<void> write_loop();
  net::Task<void> heartbeat_loop();
  // New mux output: sent at once when the connection is idle (no scheduler round trip), else
  // left to the write loop. Inside feed() it waits until the whole read is processed.
  void kick_writer();
  // The same, a moment later (posted): what the caller writes next goes in the same send (an
  // OPEN rides with the stream's first DATA).
  void kick_writer_soon();
  // A stream's DATA payload after the header Mux::write_header() appended: sent at once (copied
  // only by the encryption), whatever is pending, to keep the frame whole.
  void send_data(std::span<const std::uint8_t> payload);
  // Encrypts the mux output, then `payload` (the bytes of a DATA header the mux just wrote,
  // see Mux::write_header), and sends what the socket takes now.
  void send_output(std::span<const std::uint8_t> payload = {});
  void wake_blocked_writers();
  bool output_full() const { return mux_.output_size() + tls_->pending() >= options_.output_high_water; }
  void wait_for_output_space(proto::StreamId id) { blocked_writers_.push_back(id); }
  MuxStream* find(proto::StreamId id);

  std::unique_ptr<net::TlsSocket> tls_;
  proto::Mux mux_;
  SessionOptions options_;
  std::string id_;
  SessionCallbacks cb_;
  std::unordered_map<proto::StreamId, MuxStream*> streams_;
  std::vector<proto::StreamId> blocked_writers_;
  net::Signal writer_signal_;
  net::asio::steady_timer heartbeat_timer_;
  std::vector<std::uint8_t> write_buf_;
  Clock::time_point last_rx_;
  std::chrono::microseconds rtt_{0};
  std::uint64_t bytes_in_ = 0, bytes_out_ = 0;
  std::string finish_reason_;  // set by close_after_flush
  std::string write_error_;    // a failed send_output(): the write loop closes the session
  bool feeding_ = false;       // inside mux_.feed(): output is sent after it
  bool kick_posted_ = false;
  bool closed_ = false;
  bool started_ = false;
};

// A stream of a session, as a ByteStream. Received bytes wait in pooled chunks (bounded by the
// flow-control window); sent bytes go into the session's output as DATA frames.
class MuxStream final : public net::ByteStream {
 public:
  MuxStream(std::shared_ptr<Session> session, proto::StreamId id);
  ~MuxStream() override;

  net::Task<Result<net::Chunk>> read() override;
  net::Task<Result<void>> write(std::span<const std::uint8_t> bytes) override;
  void shutdown_write() override;
  net::Task<Result<void>> write_last(std::span<const std::uint8_t> bytes) override;
  void abort(std::string_view reason) override;
  // Aborts with a typed reason the peer receives in the RESET (refused, no_such_tunnel, ...).
  void reset(const Error& why);

  proto::StreamId id() const { return id_; }
  Session& session() { return *session_; }

  // UDP flows (streams of kind "udp", session/datagrams.cpp): whole datagrams in DATAGRAM
  // frames, outside flow control. read_datagram() waits for the next one: an empty optional
  // after the peer's FIN, an error at a reset or the end of the session. Received datagrams
  // wait in a bounded queue (kMaxQueuedDatagrams, kMaxQueuedDatagramBytes); past it they are
  // dropped and counted, never queued without bound.
  net::Task<Result<std::optional<std::vector<std::uint8_t>>>> read_datagram();
  // Sends one datagram now, or drops it and counts why (over 65,507 bytes, session output over
  // its high-water mark, stream closed): UDP semantics, it never waits. False when dropped.
  bool send_datagram(std::span<const std::uint8_t> datagram);
  static constexpr std::size_t kMaxQueuedDatagrams = 256;
  static constexpr std::size_t kMaxQueuedDatagramBytes = 512 * 1024;

 private:
  friend class Session;
  void deliver_datagram(std::span<const std::uint8_t> datagram);
  std::deque<std::vector<std::uint8_t>> dgrams_;
  std::size_t dgram_bytes_ = 0;
  net::Task<Result<void>> write_frames(std::span<const std::uint8_t> bytes, bool fin);
  void deliver(std::span<const std::uint8_t> data);
  void deliver_fin();
  void deliver_error(Error reason);
  void wake_writer() { signal_.notify(); }

  std::shared_ptr<Session> session_;
  proto::StreamId id_;
  std::vector<net::Chunk> rx_;  // FIFO; rx_head_ is the next to hand out
  std::size_t rx_head_ = 0;
  bool rx_fin_ = false;
  bool tx_closed_ = false;
  Error error_;
  bool failed_ = false;
  // One signal for both directions (a timer costs 120 bytes per open stream): the reader and
  // the writer each re-check their own condition when woken.
  net::Signal signal_;
};

}  // namespace porthole::session
