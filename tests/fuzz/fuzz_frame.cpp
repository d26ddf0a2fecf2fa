// Fuzzes the session input path: frame decoder + mux state machine + control/open decoders.
#include <cstdint>
#include <span>

#include "proto/messages.hpp"
#include "proto/mux.hpp"

namespace {

using namespace porthole::proto;

struct Sink : MuxHandler {
  Mux* mux = nullptr;
  void on_open(StreamId id, std::string_view m) override {
    if (!decode_open(m)) mux->reset(id, ResetCode::protocol, "bad open");
  }
  void on_data(StreamId id, std::span<const std::uint8_t> d) override { mux->consume(id, d.size()); }
  void on_fin(StreamId id) override { mux->shutdown(id); }
  void on_reset(StreamId, std::uint32_t, std::string_view) override {}
  void on_window(StreamId id) override {
    static const std::uint8_t x[16] = {};
    (void)mux->write(id, x);
  }
  void on_control(std::string_view m) override { (void)decode_control(m); }
  void on_ping(std::uint64_t v, bool ack) override {
    if (!ack) mux->ping(v, true);
  }
  void on_goaway(std::uint32_t, std::string_view) override {}
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  MuxOptions o;
  o.initial_window = 4096;
  o.max_streams = 64;
  Mux mux(Role::client, o);
  Sink sink;
  sink.mux = &mux;
  // Feed in two pieces to exercise staging across reads.
  const std::size_t cut = size / 3;
  if (mux.feed(std::span(data, cut), sink)) (void)mux.feed(std::span(data + cut, size - cut), sink);
  std::vector<std::uint8_t> out;
  mux.take_output(out);
  return 0;
}
