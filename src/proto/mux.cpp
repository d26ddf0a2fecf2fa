#include "proto/mux.hpp"

#include <algorithm>
#include <limits>

namespace porthole::proto {

namespace {
constexpr std::uint32_t kMaxWindow = 0x7fffffff;
}

Mux::Mux(Role role, MuxOptions options)
    : role_(role), options_(options), decoder_(options.limits), next_local_(role == Role::server ? 2 : 1) {}

Result<void> Mux::feed(std::span<const std::uint8_t> bytes, MuxHandler& handler) {
  return decoder_.feed(bytes, [&](const FrameHeader& h, std::span<const std::uint8_t> payload) {
    return on_frame(h, payload, handler);
  });
}

bool Mux::was_used(StreamId id) const {
  if (is_local_id(id)) return id < next_local_;
  return id != 0 && id <= highest_remote_;
}

void Mux::maybe_forget(StreamId id) {
  auto it = streams_.find(id);
  if (it != streams_.end() && it->second.sent_fin && it->second.got_fin) streams_.erase(it);
}

Result<StreamId> Mux::open(std::string_view metadata) {
  if (streams_.size() >= options_.max_streams) {
    return make_error("too many open streams ({})", streams_.size());
  }
  if (next_local_ > kMaxWindow) return make_error("stream ids exhausted");
  const StreamId id = next_local_;
  next_local_ += 2;
  streams_.emplace(id, Stream{options_.initial_window, options_.initial_window});
  append_frame(out_, FrameType::open, 0, id, metadata);
  return id;
}

std::uint32_t Mux::send_credit(StreamId id) const {
  auto it = streams_.find(id);
  if (it == streams_.end() || it->second.sent_fin) return 0;
  return it->second.send_credit;
}

std::size_t Mux::write_header(StreamId id, std::size_t len, bool fin) {
  auto it = streams_.find(id);
  if (it == streams_.end() || it->second.sent_fin) return 0;
  const auto n = std::min<std::size_t>({len, it->second.send_credit, options_.limits.max_data_payload});
  if (n == 0) return 0;
  const bool last = fin && n == len;
  std::uint8_t header[kHeaderSize];
  encode_header(header, FrameHeader{FrameType::data, last ? kFlagFin : std::uint16_t{0}, id,
                                    static_cast<std::uint32_t>(n)});
  out_.insert(out_.end(), header, header + kHeaderSize);
  it->second.send_credit -= static_cast<std::uint32_t>(n);
  if (last) {
    it->second.sent_fin = true;
    maybe_forget(id);  // after this the caller still sends the payload: the frame is whole
  }
  return n;
}

std::size_t Mux::write(StreamId id, std::span<const std::uint8_t> data) {
  const auto n = write_header(id, data.size());
  out_.insert(out_.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(n));
  return n;
}

void Mux::shutdown(StreamId id) {
  auto it = streams_.find(id);
  if (it == streams_.end() || it->second.sent_fin) return;
  it->second.sent_fin = true;
  append_frame(out_, FrameType::data, kFlagFin, id, {});
  maybe_forget(id);
}

Errc errc_of(std::uint32_t reset_code) {
  switch (static_cast<ResetCode>(reset_code)) {
    case ResetCode::refused: return Errc::refused;
    case ResetCode::no_such_tunnel: return Errc::no_such_tunnel;
    case ResetCode::protocol: return Errc::protocol;
    case ResetCode::shutdown: return Errc::shutdown;
    case ResetCode::timed_out: return Errc::timed_out;
    case ResetCode::forbidden: return Errc::forbidden;
    case ResetCode::cancel: break;
  }
  return Errc::cancelled;
}

ResetCode reset_code_of(Errc code) {
  switch (code) {
    case Errc::refused: return ResetCode::refused;
    case Errc::no_such_tunnel: return ResetCode::no_such_tunnel;
    case Errc::protocol: return ResetCode::protocol;
    case Errc::shutdown: return ResetCode::shutdown;
    case Errc::timed_out: return ResetCode::timed_out;
    case Errc::forbidden: return ResetCode::forbidden;
    default: return ResetCode::cancel;
  }
}

void Mux::reset(StreamId id, ResetCode code, std::string_view reason) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  streams_.erase(it);
  append_frame(out_, FrameHeader{FrameType::reset, 0, id, 0},
               encode_code_reason(static_cast<std::uint32_t>(code), reason));
}

void Mux::consume(StreamId id, std::size_t n) {
  auto it = streams_.find(id);
  if (it == streams_.end() || it->second.got_fin || n == 0) return;
  auto& s = it->second;
  s.unacked += static_cast<std::uint32_t>(n);
  // Return credit in batches: half a window, so a bulk transfer never waits on a round trip.
  if (s.unacked < options_.initial_window / 2) return;
  std::uint8_t inc[4];
  store_u32(inc, s.unacked);
  append_frame(out_, FrameHeader{FrameType::window, 0, id, 0}, inc);
  s.recv_window += s.unacked;
  s.unacked = 0;
}

void Mux::control(std::string_view message) { append_frame(out_, FrameType::control, 0, 0, message); }

void Mux::ping(std::uint64_t payload, bool ack) {
  std::uint8_t p[8];
  store_u32(p, static_cast<std::uint32_t>(payload >> 32));
  store_u32(p + 4, static_cast<std::uint32_t>(payload));
  append_frame(out_, FrameHeader{FrameType::ping, ack ? kFlagAck : std::uint16_t{0}, 0, 0}, p);
}

void Mux::goaway(std::uint32_t code, std::string_view reason) {
  append_frame(out_, FrameHeader{FrameType::goaway, 0, 0, 0}, encode_code_reason(code, reason));
}

bool Mux::write_datagram_header(StreamId id, std::size_t len) {
  if (!streams_.contains(id) || len > options_.limits.max_datagram_payload) return false;
  std::uint8_t header[kHeaderSize];
  encode_header(header, FrameHeader{FrameType::datagram, 0, id, static_cast<std::uint32_t>(len)});
  out_.insert(out_.end(), header, header + kHeaderSize);
  return true;
}

bool Mux::write_datagram(StreamId id, std::span<const std::uint8_t> datagram) {
  if (!write_datagram_header(id, datagram.size())) return false;
  out_.insert(out_.end(), datagram.begin(), datagram.end());
  return true;
}

void Mux::take_output(std::vector<std::uint8_t>& into) {
  into.clear();
  out_.swap(into);
}

Result<void> Mux::on_open_frame(StreamId id, std::span<const std::uint8_t> payload, MuxHandler& handler) {
  if (is_local_id(id)) return make_error("OPEN for stream {} with the wrong parity", id);
  if (id <= highest_remote_) return make_error("OPEN for stream {} reuses an id (last {})", id, highest_remote_);
  highest_remote_ = id;
  if (streams_.size() >= options_.max_streams) {
    append_frame(out_, FrameHeader{FrameType::reset, 0, id, 0},
                 encode_code_reason(static_cast<std::uint32_t>(ResetCode::refused), "too many streams"));
    return {};
  }
  streams_.emplace(id, Stream{options_.initial_window, options_.initial_window});
  handler.on_open(id, std::string_view(reinterpret_cast<const char*>(payload.data()), payload.size()));
  return {};
}

Result<void> Mux::on_data_frame(const FrameHeader& h, std::span<const std::uint8_t> payload,
                                MuxHandler& handler) {
  auto it = streams_.find(h.stream);
  if (it == streams_.end()) {
    if (was_used(h.stream)) return {};  // in flight when we reset it: drop
    return make_error("DATA on unknown stream {}", h.stream);
  }
  auto& s = it->second;
  if (s.got_fin) return make_error("DATA on stream {} after FIN", h.stream);
  if (payload.size() > s.recv_window) {
    return make_error("stream {} sent {} bytes with a window of {}", h.stream, payload.size(), s.recv_window);
  }
  s.recv_window -= static_cast<std::uint32_t>(payload.size());
  const bool fin = (h.flags & kFlagFin) != 0;
  if (fin) s.got_fin = true;
  if (!payload.empty()) handler.on_data(h.stream, payload);
  if (fin) {
    handler.on_fin(h.stream);
    maybe_forget(h.stream);
  }
  return {};
}

Result<void> Mux::on_frame(const FrameHeader& h, std::span<const std::uint8_t> payload, MuxHandler& handler) {
  const auto text = std::string_view(reinterpret_cast<const char*>(payload.data()), payload.size());
  switch (h.type) {
    case FrameType::open: return on_open_frame(h.stream, payload, handler);
    case FrameType::data: return on_data_frame(h, payload, handler);
    case FrameType::window: {
      auto it = streams_.find(h.stream);
      if (it == streams_.end()) {
        if (was_used(h.stream)) return {};
        return make_error("WINDOW on unknown stream {}", h.stream);
      }
      const auto inc = load_u32(payload.data());
      if (inc == 0 || inc > kMaxWindow - it->second.send_credit) {
        return make_error("WINDOW increment {} on stream {} overflows the window", inc, h.stream);
      }
      it->second.send_credit += inc;
      handler.on_window(h.stream);
      return {};
    }
    case FrameType::reset: {
      auto cr = decode_code_reason(payload);
      if (!cr) return cr.error();
      auto it = streams_.find(h.stream);
      if (it == streams_.end()) {
        if (was_used(h.stream)) return {};
        return make_error("RESET on unknown stream {}", h.stream);
      }
      streams_.erase(it);
      handler.on_reset(h.stream, cr->code, cr->reason);
      return {};
    }
    case FrameType::ping: {
      const std::uint64_t v = (std::uint64_t{load_u32(payload.data())} << 32) | load_u32(payload.data() + 4);
      handler.on_ping(v, (h.flags & kFlagAck) != 0);
      return {};
    }
    case FrameType::control: handler.on_control(text); return {};
    case FrameType::goaway: {
      auto cr = decode_code_reason(payload);
      if (!cr) return cr.error();
      handler.on_goaway(cr->code, cr->reason);
      return {};
    }
    case FrameType::datagram: {
      if (!streams_.contains(h.stream)) {
        if (was_used(h.stream)) return {};  // the flow ended while this was in flight: drop
        return make_error("DATAGRAM on unknown stream {}", h.stream);
      }
      handler.on_datagram(h.stream, payload);
      return {};
    }
  }
  return make_error("unknown frame type");
}

}  // namespace porthole::proto
