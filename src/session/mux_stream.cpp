#include <algorithm>
#include <cstring>

#include "session/session.hpp"

namespace porthole::session {

MuxStream::MuxStream(std::shared_ptr<Session> session, proto::StreamId id)
    : session_(std::move(session)),
      id_(id),
      signal_(session_->tls_->socket().get_executor()) {}

MuxStream::~MuxStream() {
  session_->streams_.erase(id_);
  if (!session_->closed_ && session_->mux_.is_open(id_)) {
    // Dropped without a clean end in both directions: tell the peer.
    session_->mux_.reset(id_, proto::ResetCode::cancel, "stream closed");
    session_->kick_writer();
  }
}

void MuxStream::deliver(std::span<const std::uint8_t> data) {
  while (!data.empty()) {
    if (rx_.size() == rx_head_ || rx_.back().spare().empty()) rx_.push_back(net::Chunk::take(data.size()));
    auto spare = rx_.back().spare();
    const auto n = std::min(spare.size(), data.size());
    std::memcpy(spare.data(), data.data(), n);
    rx_.back().commit(n);
    data = data.subspan(n);
  }
  signal_.notify();
}

void MuxStream::deliver_fin() {
  rx_fin_ = true;
  signal_.notify();
}

void MuxStream::deliver_error(Error reason) {
  if (!failed_) {
    error_ = std::move(reason);
    failed_ = true;
  }
  rx_.clear();
  rx_head_ = 0;
  dgrams_.clear();
  dgram_bytes_ = 0;
  signal_.notify();
}

net::Task<Result<net::Chunk>> MuxStream::read() {
  for (;;) {
    if (failed_) co_return error_;
    if (rx_head_ < rx_.size()) {
      net::Chunk c = std::move(rx_[rx_head_++]);
      if (rx_head_ == rx_.size()) {
        rx_.clear();
        rx_head_ = 0;
      }
      session_->mux_.consume(id_, c.size());
      if (session_->mux_.has_output()) session_->kick_writer();
      co_return c;
    }
    if (rx_fin_) co_return net::Chunk{};
    co_await signal_.wait();
  }
}

net::Task<Result<void>> MuxStream::write(std::span<const std::uint8_t> bytes) { return write_frames(bytes, false); }

net::Task<Result<void>> MuxStream::write_last(std::span<const std::uint8_t> bytes) {
  if (bytes.empty()) {
    shutdown_write();
    co_return Result<void>{};
  }
  auto r = co_await write_frames(bytes, true);
  if (r) tx_closed_ = true;
  co_return r;
}

net::Task<Result<void>> MuxStream::write_frames(std::span<const std::uint8_t> bytes, bool fin) {
  auto& mux = session_->mux_;
  while (!bytes.empty()) {
    if (failed_) co_return error_;
    if (tx_closed_ || session_->closed_) co_return make_error("stream closed");
    if (!mux.is_open(id_)) co_return make_error("stream closed by peer");
    if (session_->output_full()) {
      session_->wait_for_output_space(id_);
      co_await signal_.wait();
      continue;
    }
    // Header into the mux output, payload straight from the caller's buffer into TLS: the
    // bytes are not copied into the output first.
    const auto n = mux.write_header(id_, bytes.size(), fin);
    if (n == 0) {  // no flow-control credit: wait for a WINDOW frame
      co_await signal_.wait();
      continue;
    }
    session_->send_data(bytes.first(n));
    bytes = bytes.subspan(n);
  }
  co_return Result<void>{};
}

void MuxStream::shutdown_write() {
  if (tx_closed_ || failed_) return;
  tx_closed_ = true;
  session_->mux_.shutdown(id_);
  session_->kick_writer();
}

void MuxStream::abort(std::string_view reason) {
  reset(Error{reason.empty() ? "aborted" : std::string(reason), Errc::cancelled});
}

void MuxStream::reset(const Error& why) {
  if (failed_) return;
  error_ = why;
  failed_ = true;
  tx_closed_ = true;
  if (!session_->closed_) {
    session_->mux_.reset(id_, proto::reset_code_of(why.code), why.message);
    session_->kick_writer();
  }
  rx_.clear();
  rx_head_ = 0;
  signal_.notify();
}

}  // namespace porthole::session
