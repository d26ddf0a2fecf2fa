#include "session/session.hpp"

#include <spdlog/spdlog.h>

#include "core/metrics.hpp"

namespace porthole::session {

namespace asio = net::asio;

namespace {

metrics::Counter& protocol_errors() {
  static auto& c = metrics::counter("porthole_session_protocol_errors_total",
                                    "Sessions closed because the peer violated the protocol");
  return c;
}
metrics::Counter& heartbeat_timeouts() {
  static auto& c = metrics::counter("porthole_session_heartbeat_timeouts_total",
                                    "Sessions closed because the peer went silent");
  return c;
}

std::uint64_t now_us() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch()).count());
}

}  // namespace

Session::Session(std::unique_ptr<net::TlsSocket> tls, proto::Role role, SessionOptions options, std::string id)
    : tls_(std::move(tls)),
      mux_(role, options.mux),
      options_(options),
      id_(std::move(id)),
      writer_signal_(tls_->socket().get_executor()),
      heartbeat_timer_(tls_->socket().get_executor()),
      last_rx_(Clock::now()) {}

Session::~Session() = default;

void Session::start() {
  if (started_) return;
  started_ = true;
  auto ex = tls_->socket().get_executor();
  auto self = shared_from_this();
  asio::co_spawn(ex, [self]() { return self->read_loop(); }, asio::detached);
  asio::co_spawn(ex, [self]() { return self->write_loop(); }, asio::detached);
  asio::co_spawn(ex, [self]() { return self->heartbeat_loop(); }, asio::detached);
}

MuxStream* Session::find(proto::StreamId id) {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : it->second;
}

Result<std::shared_ptr<MuxStream>> Session::open_stream(std::string_view metadata) {
  if (closed_) return make_error("session closed");
  auto id = mux_.open(metadata);
  if (!id) return id.error();
  auto stream = std::make_shared<MuxStream>(shared_from_this(), *id);
  streams_[*id] = stream.get();
  kick_writer_soon();
  return stream;
}

void Session::send_control(std::string_view message) {
  if (closed_) return;
  mux_.control(message);
  kick_writer();
}

void Session::goaway(std::string_view reason) {
  if (closed_) return;
  mux_.goaway(0, reason);
  kick_writer();
}

void Session::close(std::string_view reason) {
  if (closed_) return;
  closed_ = true;
  auto self = shared_from_this();  // callbacks below may drop the last outside reference
  spdlog::debug("session {}: closed: {} ({} streams, {} bytes in, {} bytes out)", id_, reason, streams_.size(),
                bytes_in_, bytes_out_);
  tls_->close();
  heartbeat_timer_.cancel();
  writer_signal_.notify();
  auto streams = streams_;
  for (auto& [sid, s] : streams) s->deliver_error(make_error(Errc::closed, "session closed: {}", reason));
  if (cb_.on_close) cb_.on_close(reason);
  cb_ = {};
}

void Session::close_after_flush(std::string_view reason) {
  if (closed_ || !finish_reason_.empty()) return;
  finish_reason_ = reason.empty() ? "closed" : std::string(reason);
  kick_writer();
}

net::Task<void> Session::read_loop() {
  // One read buffer per thread, not per session (a relay with a thousand agents would hold
  // 256 MiB): read_some() writes into it only after its last wait, and feed() consumes it
  // before this coroutine suspends again, so sessions on one thread never see each other's bytes.
  static thread_local std::vector<std::uint8_t> buf(256 * 1024);
  while (!closed_) {
    auto n = co_await tls_->read_some(buf);
    if (closed_) break;
    if (!n) {
      close(n.error().message);
      break;
    }
    if (*n == 0) {
      close("peer closed the connection");
      break;
    }
    bytes_in_ += *n;
    last_rx_ = Clock::now();
    feeding_ = true;
    auto r = mux_.feed(std::span(buf.data(), *n), *this);
    feeding_ = false;
    if (!r) {
      protocol_errors().inc();
      spdlog::warn("session {}: protocol error: {}", id_, r.error().message);
      close(fmt::format("protocol error: {}", r.error().message));
      break;
    }
    kick_writer();  // WINDOW and PING replies of the whole read, in one write
  }
}

void Session::kick_writer() {
  if (feeding_ || closed_) return;
  if (tls_->pending() > 0 || !write_error_.empty()) {
    writer_signal_.notify();  // the write loop is waiting for the socket; it takes this too
    return;
  }
  send_output();
  if (tls_->pending() > 0 || !write_error_.empty() || !finish_reason_.empty()) writer_signal_.notify();
}

void Session::kick_writer_soon() {
  if (kick_posted_ || closed_) return;
  kick_posted_ = true;
  asio::post(tls_->socket().get_executor(), [self = shared_from_this()] {
    self->kick_posted_ = false;
    if (self->mux_.has_output()) self->kick_writer();
  });
}

void Session::send_data(std::span<const std::uint8_t> payload) {
  send_output(payload);
  if (tls_->pending() > 0 || !write_error_.empty()) writer_signal_.notify();
}

void Session::send_output(std::span<const std::uint8_t> payload) {
  if (!mux_.has_output()) return;
  mux_.take_output(write_buf_);
  bytes_out_ += write_buf_.size() + payload.size();
  if (auto r = tls_->write_now(write_buf_); !r) write_error_ = r.error().message;
  if (auto r = tls_->write_now(payload); !r && write_error_.empty()) write_error_ = r.error().message;
  // A burst may have grown it; an idle session keeps at most 256 KiB.
  if (write_buf_.capacity() > 256 * 1024) std::vector<std::uint8_t>().swap(write_buf_);
  if (tls_->pending() == 0) wake_blocked_writers();
}

void Session::wake_blocked_writers() {
  auto blocked = std::move(blocked_writers_);
  blocked_writers_.clear();
  for (auto id : blocked) {
    if (auto* s = find(id)) s->wake_writer();
  }
}

net::Task<void> Session::write_loop() {
  while (!closed_) {
    if (!write_error_.empty()) {
      close(write_error_);
      break;
    }
    if (tls_->pending() > 0) {
      // (GCC 12 miscompiles co_await inside an if condition here: keep it a statement.)
      const bool sent = co_await tls_->flush();
      if (!sent) write_error_ = "connection lost";
      if (!closed_ && write_error_.empty()) wake_blocked_writers();
      continue;
    }
    if (mux_.has_output()) {
      send_output();
      continue;
    }
    if (!finish_reason_.empty()) {
      close(finish_reason_);
      break;
    }
    co_await writer_signal_.wait();
  }
}

net::Task<void> Session::heartbeat_loop() {
  const auto interval = options_.heartbeat.interval;
  const auto timeout = options_.heartbeat.timeout;
  while (!closed_) {
    heartbeat_timer_.expires_after(interval);
    co_await heartbeat_timer_.async_wait(net::use_nothrow);
    if (closed_) break;
    if (Clock::now() - last_rx_ > timeout) {
      heartbeat_timeouts().inc();
      close(fmt::format("no data from peer for {}s (heartbeat timeout)", timeout.count()));
      break;
    }
    mux_.ping(now_us());
    kick_writer();
  }
}

void Session::on_open(proto::StreamId id, std::string_view metadata) {
  if (!cb_.on_open) {
    mux_.reset(id, proto::ResetCode::refused, "this side accepts no streams");
    return;
  }
  auto stream = std::make_shared<MuxStream>(shared_from_this(), id);
  streams_[id] = stream.get();
  cb_.on_open(std::move(stream), metadata);
}

void Session::on_data(proto::StreamId id, std::span<const std::uint8_t> data) {
  if (auto* s = find(id)) {
    s->deliver(data);
  } else {
    mux_.reset(id, proto::ResetCode::cancel, "stream is gone");
  }
}

void Session::on_fin(proto::StreamId id) {
  if (auto* s = find(id)) s->deliver_fin();
}

void Session::on_reset(proto::StreamId id, std::uint32_t code, std::string_view reason) {
  if (auto* s = find(id)) s->deliver_error(Error{std::string(reason.empty() ? "stream reset by peer" : reason), proto::errc_of(code)});
}

void Session::on_window(proto::StreamId id) {
  if (auto* s = find(id)) s->wake_writer();
}

void Session::on_control(std::string_view message) {
  if (cb_.on_control) cb_.on_control(message);
}

void Session::on_ping(std::uint64_t payload, bool ack) {
  if (!ack) {
    mux_.ping(payload, true);
    return;
  }
  const auto now = now_us();
  if (payload <= now) rtt_ = std::chrono::microseconds(now - payload);
}

void Session::on_datagram(proto::StreamId id, std::span<const std::uint8_t> datagram) {
  if (auto* s = find(id)) s->deliver_datagram(datagram);
}

void Session::on_goaway(std::uint32_t code, std::string_view reason) {
  spdlog::info("session {}: peer is going away (code {}): {}", id_, code, reason);
}

}  // namespace porthole::session
