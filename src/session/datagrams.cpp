// Datagrams of UDP flow streams (see MuxStream::read_datagram / send_datagram, docs/protocol.md).
#include "core/metrics.hpp"
#include "session/session.hpp"

namespace porthole::session {

namespace {
struct DatagramStats {
  metrics::Counter& sent = metrics::counter("porthole_session_datagrams_total{dir=\"out\"}", "DATAGRAM frames");
  metrics::Counter& received = metrics::counter("porthole_session_datagrams_total{dir=\"in\"}", "DATAGRAM frames");
  metrics::Counter& drop_rx_queue = metrics::counter("porthole_session_datagrams_dropped_total{reason=\"receive_queue\"}",
                                                     "Datagrams dropped in the session, by reason");
  metrics::Counter& drop_output = metrics::counter("porthole_session_datagrams_dropped_total{reason=\"output_full\"}",
                                                   "Datagrams dropped in the session, by reason");
  metrics::Counter& drop_size = metrics::counter("porthole_session_datagrams_dropped_total{reason=\"too_large\"}",
                                                 "Datagrams dropped in the session, by reason");
  metrics::Counter& drop_closed = metrics::counter("porthole_session_datagrams_dropped_total{reason=\"closed\"}",
                                                   "Datagrams dropped in the session, by reason");
};
DatagramStats& stats() {
  static DatagramStats s;
  return s;
}
}  // namespace

void MuxStream::deliver_datagram(std::span<const std::uint8_t> d) {
  stats().received.inc();
  if (failed_ || dgrams_.size() >= kMaxQueuedDatagrams || dgram_bytes_ + d.size() > kMaxQueuedDatagramBytes) {
    stats().drop_rx_queue.inc();  // the reader is behind: drop the newest, like a full socket buffer
    return;
  }
  dgrams_.emplace_back(d.begin(), d.end());
  dgram_bytes_ += d.size();
  signal_.notify();
}

net::Task<Result<std::optional<std::vector<std::uint8_t>>>> MuxStream::read_datagram() {
  for (;;) {
    if (failed_) co_return error_;
    if (!dgrams_.empty()) {
      std::optional<std::vector<std::uint8_t>> d(std::move(dgrams_.front()));
      dgrams_.pop_front();
      dgram_bytes_ -= d->size();
      co_return d;
    }
    if (rx_fin_) co_return std::optional<std::vector<std::uint8_t>>{};
    co_await signal_.wait();
  }
}

bool MuxStream::send_datagram(std::span<const std::uint8_t> d) {
  if (d.size() > proto::kMaxDatagram) {
    stats().drop_size.inc();
    return false;
  }
  if (failed_ || session_->closed_ || !session_->mux_.is_open(id_)) {
    stats().drop_closed.inc();
    return false;
  }
  if (session_->output_full()) {  // the session is behind: drop rather than queue
    stats().drop_output.inc();
    return false;
  }
  if (!session_->mux_.write_datagram(id_, d)) {
    stats().drop_closed.inc();
    return false;
  }
  // Sent a moment later (posted): the datagrams a socket read in one batch go out in one TLS
  // write instead of one record and one send(2) each.
  session_->kick_writer_soon();
  stats().sent.inc();
  return true;
}

}  // namespace porthole::session
