// WebSocket message capture on an upgraded connection: a ByteStream that passes every read on
// unchanged and shows the bytes to a proto::ws::FrameReader; the messages it reports go into
// the exchange's WsLog, bounded per connection (WsLimits::per_connection) and in total (the
// Recorder's WebSocket budget) — past either, a message is counted, not kept. A framing error
// stops the capture of that direction (counted); the bytes still flow.
#pragma once

#include <memory>

#include "inspect/recorder.hpp"
#include "net/byte_stream.hpp"
#include "proto/ws_frame.hpp"

namespace porthole::inspect {

class WsTap final : public net::ByteStream {
 public:
  // `from_client`: the bytes read are the visitor's (masked frames).
  WsTap(net::ByteStream& inner, Recorder& rec, std::shared_ptr<WsLog> log, bool from_client);
  net::Task<Result<net::Chunk>> read() override;
  net::Task<Result<void>> write(std::span<const std::uint8_t> b) override { return inner_.write(b); }
  net::Task<Result<void>> write_last(std::span<const std::uint8_t> b) override { return inner_.write_last(b); }
  void shutdown_write() override { inner_.shutdown_write(); }
  void abort(std::string_view reason) override { inner_.abort(reason); }

  // The part that is not I/O (unit-tested).
  void observe(std::span<const std::uint8_t> bytes);

 private:
  net::ByteStream& inner_;
  Recorder& rec_;
  std::shared_ptr<WsLog> log_;
  bool from_client_;
  proto::ws::FrameReader reader_;
  std::vector<proto::ws::Message> out_;
};

// Whether a request asks for a WebSocket upgrade (Upgrade: websocket).
bool is_websocket_upgrade(const proto::http1::Fields& fields);

}  // namespace porthole::inspect
