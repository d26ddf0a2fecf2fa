#include "inspect/ws_tap.hpp"

#include "core/metrics.hpp"

namespace porthole::inspect {

namespace {
metrics::Counter& messages_total() {
  static auto& c = metrics::counter("porthole_inspect_ws_messages_total", "WebSocket messages seen on upgraded connections");
  return c;
}
metrics::Counter& not_kept_total() {
  static auto& c = metrics::counter("porthole_inspect_ws_dropped_total",
                                    "WebSocket messages counted but not kept (per-connection or total cap)");
  return c;
}
metrics::Counter& bad_total() {
  static auto& c = metrics::counter("porthole_inspect_ws_bad_frames_total",
                                    "Upgraded connections whose WebSocket framing broke RFC 6455 (capture stopped)");
  return c;
}
}  // namespace

WsTap::WsTap(net::ByteStream& inner, Recorder& rec, std::shared_ptr<WsLog> log, bool from_client)
    : inner_(inner),
      rec_(rec),
      log_(std::move(log)),
      from_client_(from_client),
      reader_(from_client, rec.limits().ws.preview) {
  messages_total();
  not_kept_total();
  bad_total();
}

net::Task<Result<net::Chunk>> WsTap::read() {
  auto r = co_await inner_.read();
  if (r && !r->empty()) observe(r->bytes());
  co_return std::move(r);
}

void WsTap::observe(std::span<const std::uint8_t> bytes) {
  if (reader_.failed()) return;
  out_.clear();
  const bool ok = reader_.feed(bytes, out_);
  const auto now = std::chrono::system_clock::now();
  const auto& limits = rec_.limits().ws;
  std::lock_guard lock(log_->mu);
  for (auto& m : out_) {
    messages_total().inc();
    const auto size = sizeof(WsMessage) + m.preview.size();
    if (log_->messages.size() >= limits.per_connection || !rec_.ws_reserve(size)) {
      ++log_->dropped;
      not_kept_total().inc();
      continue;
    }
    log_->bytes += size;
    log_->messages.push_back(WsMessage{.from_client = from_client_,
                                       .time = now,
                                       .opcode = m.opcode,
                                       .size = m.size,
                                       .payload = std::move(m.preview),
                                       .compressed = m.compressed,
                                       .close_code = m.close_code});
  }
  if (!ok) {
    bad_total().inc();
    ++(from_client_ ? log_->bad_client : log_->bad_server);
    if (log_->error.empty()) log_->error = (from_client_ ? "from the visitor: " : "from the service: ") + reader_.error();
  }
}

bool is_websocket_upgrade(const proto::http1::Fields& fields) { return fields.has_token("Upgrade", "websocket"); }

}  // namespace porthole::inspect
