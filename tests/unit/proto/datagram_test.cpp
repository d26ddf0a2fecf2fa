// DATAGRAM frames: one whole UDP datagram per frame on a flow's stream, outside flow control.
#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "proto/mux.hpp"

using namespace porthole::proto;

namespace {

struct DatagramRecorder : MuxHandler {
  std::vector<StreamId> opened;
  std::map<StreamId, std::vector<std::string>> datagrams;
  std::vector<StreamId> resets;
  void on_open(StreamId id, std::string_view) override { opened.push_back(id); }
  void on_data(StreamId, std::span<const std::uint8_t>) override {}
  void on_fin(StreamId) override {}
  void on_reset(StreamId id, std::uint32_t, std::string_view) override { resets.push_back(id); }
  void on_window(StreamId) override {}
  void on_control(std::string_view) override {}
  void on_ping(std::uint64_t, bool) override {}
  void on_goaway(std::uint32_t, std::string_view) override {}
  void on_datagram(StreamId id, std::span<const std::uint8_t> d) override {
    datagrams[id].emplace_back(d.begin(), d.end());
  }
};

// What a session does: the header from the mux, then the payload right after it.
void send(Mux& m, StreamId id, std::string_view payload, std::vector<std::uint8_t>& wire) {
  ASSERT_TRUE(m.write_datagram_header(id, payload.size()));
  std::vector<std::uint8_t> out;
  m.take_output(out);
  wire.insert(wire.end(), out.begin(), out.end());
  wire.insert(wire.end(), payload.begin(), payload.end());
}

}  // namespace

TEST(Datagram, WholeDatagramsPerFlowOutsideFlowControl) {
  MuxOptions o;
  o.initial_window = 100;  // datagrams do not use it
  Mux relay(Role::server, o), agent(Role::client, o);
  DatagramRecorder ra;
  auto a = *relay.open("{\"tunnel\":\"dns\",\"kind\":\"udp\"}");
  auto b = *relay.open("{\"tunnel\":\"dns\",\"kind\":\"udp\"}");
  std::vector<std::uint8_t> wire;
  relay.take_output(wire);  // the OPENs
  const std::string big(1000, 'q');  // over the window: still one datagram
  send(relay, a, "first", wire);
  send(relay, b, big, wire);
  send(relay, a, "", wire);  // an empty datagram is a datagram
  send(relay, a, "third", wire);
  // Fed byte by byte: a datagram split across reads is still handed over whole, once.
  for (auto byte : wire) ASSERT_TRUE(agent.feed(std::span(&byte, 1), ra));
  ASSERT_EQ(ra.opened.size(), 2u);
  EXPECT_EQ(ra.datagrams[a], (std::vector<std::string>{"first", "", "third"}));
  EXPECT_EQ(ra.datagrams[b], (std::vector<std::string>{big}));
  EXPECT_EQ(relay.send_credit(a), 100u) << "datagrams take no stream credit";
}

TEST(Datagram, LimitsAndUnknownStreams) {
  Mux relay(Role::server), agent(Role::client);
  DatagramRecorder ra;
  auto id = *relay.open("{}");
  std::vector<std::uint8_t> out;
  relay.take_output(out);  // the OPEN, for the agent below
  EXPECT_TRUE(relay.write_datagram_header(id, kMaxDatagram));
  EXPECT_FALSE(relay.write_datagram_header(id, kMaxDatagram + 1)) << "over 65,507 bytes is refused";
  EXPECT_FALSE(relay.write_datagram_header(id + 2, 1)) << "not an open stream";
  // A header claiming more than 65,507 bytes is a protocol error before any allocation.
  std::vector<std::uint8_t> bad;
  append_frame(bad, FrameHeader{FrameType::datagram, 0, 1, 0}, {});
  store_u32(bad.data() + 8, kMaxDatagram + 1);
  FrameDecoder d;
  auto r = d.feed(bad, [](const FrameHeader&, std::span<const std::uint8_t>) -> porthole::Result<void> { return {}; });
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("DATAGRAM frame of 65508 bytes exceeds the limit"), std::string::npos)
      << r.error().message;
  // Flags are not allowed; stream 0 is not allowed.
  std::vector<std::uint8_t> flagged;
  append_frame(flagged, FrameHeader{FrameType::datagram, kFlagFin, 1, 0}, {});
  EXPECT_FALSE(FrameDecoder().feed(flagged, [](auto&, auto) -> porthole::Result<void> { return {}; }));
  std::vector<std::uint8_t> zero;
  append_frame(zero, FrameHeader{FrameType::datagram, 0, 0, 0}, {});
  EXPECT_FALSE(FrameDecoder().feed(zero, [](auto&, auto) -> porthole::Result<void> { return {}; }));
  // A DATAGRAM on a stream never opened is a protocol error; on one that was reset, dropped.
  ASSERT_TRUE(agent.feed(out, ra));
  std::vector<std::uint8_t> wire;
  append_frame(wire, FrameHeader{FrameType::datagram, 0, 40, 0}, {});
  auto unknown = agent.feed(wire, ra);
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("DATAGRAM on unknown stream 40"), std::string::npos);
  Mux relay2(Role::server), agent2(Role::client);
  DatagramRecorder r2;
  auto s = *relay2.open("{}");
  std::vector<std::uint8_t> o2;
  relay2.take_output(o2);
  ASSERT_TRUE(agent2.feed(o2, r2));
  agent2.reset(s, ResetCode::cancel, "idle");
  std::vector<std::uint8_t> late;
  append_frame(late, FrameHeader{FrameType::datagram, 0, s, 0}, std::span<const std::uint8_t>());
  EXPECT_TRUE(agent2.feed(late, r2)) << "in flight when the flow ended: dropped";
  EXPECT_TRUE(r2.datagrams.empty());
}

TEST(Datagram, CopiedPayloadsBatchInOneOutput) {
  Mux relay(Role::server), agent(Role::client);
  DatagramRecorder ra;
  auto id = *relay.open("{}");
  const std::string a = "one", b(1200, 'b');
  ASSERT_TRUE(relay.write_datagram(id, std::span(reinterpret_cast<const std::uint8_t*>(a.data()), a.size())));
  ASSERT_TRUE(relay.write_datagram(id, std::span(reinterpret_cast<const std::uint8_t*>(b.data()), b.size())));
  const std::vector<std::uint8_t> too_big(kMaxDatagram + 1);
  EXPECT_FALSE(relay.write_datagram(id, too_big));
  std::vector<std::uint8_t> out;
  relay.take_output(out);
  ASSERT_TRUE(agent.feed(out, ra));
  EXPECT_EQ(ra.datagrams[id], (std::vector<std::string>{a, b}));
}
