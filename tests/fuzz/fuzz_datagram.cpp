// Fuzz target: DATAGRAM frames in the session (src/proto/frame.cpp + mux.cpp): the decoder and
// the mux fed arbitrary frames, with streams opened so datagrams reach flows. The first byte
// picks the role and how the input is split across feeds.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "proto/mux.hpp"

namespace {
struct Sink : porthole::proto::MuxHandler {
  std::size_t bytes = 0;
  void on_open(porthole::proto::StreamId, std::string_view) override {}
  void on_data(porthole::proto::StreamId, std::span<const std::uint8_t>) override {}
  void on_fin(porthole::proto::StreamId) override {}
  void on_reset(porthole::proto::StreamId, std::uint32_t, std::string_view) override {}
  void on_window(porthole::proto::StreamId) override {}
  void on_control(std::string_view) override {}
  void on_ping(std::uint64_t, bool) override {}
  void on_goaway(std::uint32_t, std::string_view) override {}
  void on_datagram(porthole::proto::StreamId, std::span<const std::uint8_t> d) override {
    if (d.size() > porthole::proto::kMaxDatagram) __builtin_trap();  // never more than the limit
    bytes += d.size();
  }
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace porthole::proto;
  if (size < 1) return 0;
  const auto mode = data[0];
  std::span<const std::uint8_t> in(data + 1, size - 1);
  Mux m(mode & 1 ? Role::client : Role::server);
  // Streams of our own, so DATAGRAMs for them are delivered (and datagrams we send are framed).
  for (int i = 0; i < 3; ++i) {
    auto id = m.open("{\"kind\":\"udp\"}");
    if (id) (void)m.write_datagram_header(*id, static_cast<std::size_t>(i) * 30000);
  }
  Sink sink;
  const std::size_t step = (mode >> 1) == 0 ? in.size() : (mode >> 1);
  for (std::size_t off = 0; off < in.size(); off += step) {
    auto r = m.feed(in.subspan(off, std::min(step, in.size() - off)), sink);
    if (!r) break;
  }
  std::vector<std::uint8_t> out;
  m.take_output(out);
  return 0;
}
