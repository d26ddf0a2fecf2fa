#include "proto/mux.hpp"

#include <gtest/gtest.h>

#include <map>

using namespace porthole::proto;

namespace {

// Records every event a Mux reports.
struct Recorder : MuxHandler {
  std::vector<std::pair<StreamId, std::string>> opened;
  std::map<StreamId, std::string> data;
  std::vector<StreamId> fins;
  std::vector<std::pair<StreamId, std::uint32_t>> resets;
  int windows = 0;
  std::vector<std::string> controls;
  std::vector<std::pair<std::uint64_t, bool>> pings;
  void on_open(StreamId id, std::string_view m) override { opened.emplace_back(id, std::string(m)); }
  void on_data(StreamId id, std::span<const std::uint8_t> d) override { data[id].append(d.begin(), d.end()); }
  void on_fin(StreamId id) override { fins.push_back(id); }
  void on_reset(StreamId id, std::uint32_t code, std::string_view) override { resets.emplace_back(id, code); }
  void on_window(StreamId) override { ++windows; }
  void on_control(std::string_view m) override { controls.emplace_back(m); }
  void on_ping(std::uint64_t v, bool ack) override { pings.emplace_back(v, ack); }
  void on_goaway(std::uint32_t, std::string_view) override {}
};

// Moves a's output into b.
porthole::Result<void> pipe(Mux& a, Mux& b, Recorder& rb) {
  std::vector<std::uint8_t> buf;
  a.take_output(buf);
  return b.feed(buf, rb);
}

std::span<const std::uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace

TEST(Mux, OpenWithDataCostsNoRoundTrip) {
  Mux relay(Role::server), agent(Role::client);
  Recorder ra, rr;
  auto id = relay.open("{\"tunnel\":\"ssh\"}");
  ASSERT_TRUE(id);
  EXPECT_EQ(*id % 2, 0u);
  EXPECT_EQ(relay.write(*id, bytes("SSH-2.0")), 7u);
  ASSERT_TRUE(pipe(relay, agent, ra));
  ASSERT_EQ(ra.opened.size(), 1u);
  EXPECT_EQ(ra.opened[0].second, "{\"tunnel\":\"ssh\"}");
  EXPECT_EQ(ra.data[*id], "SSH-2.0");
  // The agent answers on the same stream.
  EXPECT_EQ(agent.write(*id, bytes("hi")), 2u);
  ASSERT_TRUE(pipe(agent, relay, rr));
  EXPECT_EQ(rr.data[*id], "hi");
}

TEST(Mux, FlowControlBoundsTheSender) {
  MuxOptions o;
  o.initial_window = 1000;
  Mux relay(Role::server, o), agent(Role::client, o);
  Recorder ra, rr;
  auto id = *relay.open("{}");
  std::string big(5000, 'x');
  EXPECT_EQ(relay.write(id, bytes(big)), 1000u);
  EXPECT_EQ(relay.send_credit(id), 0u);
  EXPECT_EQ(relay.write(id, bytes(big)), 0u);
  ASSERT_TRUE(pipe(relay, agent, ra));
  EXPECT_EQ(ra.data[id].size(), 1000u);
  // Consuming less than half a window returns no credit yet.
  agent.consume(id, 400);
  EXPECT_FALSE(agent.has_output());
  agent.consume(id, 200);
  ASSERT_TRUE(agent.has_output());
  ASSERT_TRUE(pipe(agent, relay, rr));
  EXPECT_EQ(rr.windows, 1);
  EXPECT_EQ(relay.send_credit(id), 600u);
}

TEST(Mux, PeerExceedingWindowIsAProtocolError) {
  MuxOptions small;
  small.initial_window = 10;
  MuxOptions large;
  large.initial_window = 100;
  Mux relay(Role::server, large), agent(Role::client, small);
  Recorder ra;
  auto id = *relay.open("{}");
  relay.write(id, bytes(std::string(50, 'x')));
  auto r = pipe(relay, agent, ra);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("window"), std::string::npos);
}

TEST(Mux, HalfCloseBothWays) {
  Mux relay(Role::server), agent(Role::client);
  Recorder ra, rr;
  auto id = *relay.open("{}");
  relay.write(id, bytes("request"));
  relay.shutdown(id);
  ASSERT_TRUE(pipe(relay, agent, ra));
  EXPECT_EQ(ra.fins, std::vector<StreamId>{id});
  EXPECT_TRUE(agent.is_open(id));  // agent may still answer
  agent.write(id, bytes("response"));
  agent.shutdown(id);
  EXPECT_FALSE(agent.is_open(id));
  ASSERT_TRUE(pipe(agent, relay, rr));
  EXPECT_EQ(rr.data[id], "response");
  EXPECT_EQ(rr.fins, std::vector<StreamId>{id});
  EXPECT_FALSE(relay.is_open(id));
  EXPECT_EQ(relay.stream_count(), 0u);
}

TEST(Mux, ResetClosesAndLateFramesAreDropped) {
  Mux relay(Role::server), agent(Role::client);
  Recorder ra, rr;
  auto id = *relay.open("{}");
  ASSERT_TRUE(pipe(relay, agent, ra));
  relay.write(id, bytes("in flight"));  // crosses with the agent's reset
  agent.reset(id, ResetCode::refused, "connection refused");
  ASSERT_TRUE(pipe(agent, relay, rr));
  ASSERT_EQ(rr.resets.size(), 1u);
  EXPECT_EQ(rr.resets[0].second, static_cast<std::uint32_t>(ResetCode::refused));
  ASSERT_TRUE(pipe(relay, agent, ra));  // late DATA for a reset stream: ignored, not an error
  EXPECT_TRUE(ra.data[id].empty());
}

TEST(Mux, RejectsBadStreamIds) {
  Mux relay(Role::server), agent(Role::client);
  Recorder ra;
  // A relay may not open odd ids.
  std::vector<std::uint8_t> f;
  append_frame(f, FrameType::open, 0, 3, "{}");
  EXPECT_FALSE(agent.feed(f, ra));
  // Reusing an id is an error.
  Mux agent2(Role::client);
  f.clear();
  append_frame(f, FrameType::open, 0, 4, "{}");
  append_frame(f, FrameType::open, 0, 4, "{}");
  EXPECT_FALSE(agent2.feed(f, ra));
  // DATA on a never-opened stream.
  Mux agent3(Role::client);
  f.clear();
  append_frame(f, FrameType::data, 0, 8, "x");
  EXPECT_FALSE(agent3.feed(f, ra));
}

TEST(Mux, StreamLimitRefusesWithoutKillingTheSession) {
  MuxOptions o;
  o.max_streams = 2;
  Mux relay(Role::server), agent(Role::client, o);
  Recorder ra, rr;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(relay.open("{}"));
  ASSERT_TRUE(pipe(relay, agent, ra));
  EXPECT_EQ(ra.opened.size(), 2u);
  ASSERT_TRUE(pipe(agent, relay, rr));
  ASSERT_EQ(rr.resets.size(), 1u);
  EXPECT_EQ(rr.resets[0].first, 6u);
}

TEST(Mux, FairnessIsLeftToTheWriterButChunksAreBounded) {
  Mux relay(Role::server);
  auto id = *relay.open("{}");
  std::string big(200 * 1024, 'x');
  EXPECT_EQ(relay.write(id, bytes(big)), relay.max_chunk());
}

TEST(Mux, PingAndControl) {
  Mux relay(Role::server), agent(Role::client);
  Recorder ra;
  relay.ping(0x0102030405060708ULL);
  relay.ping(42, true);
  relay.control("{\"type\":\"welcome\"}");
  ASSERT_TRUE(pipe(relay, agent, ra));
  ASSERT_EQ(ra.pings.size(), 2u);
  EXPECT_EQ(ra.pings[0].first, 0x0102030405060708ULL);
  EXPECT_FALSE(ra.pings[0].second);
  EXPECT_TRUE(ra.pings[1].second);
  EXPECT_EQ(ra.controls.at(0), "{\"type\":\"welcome\"}");
}

TEST(Mux, WriteHeaderLeavesThePayloadToTheCaller) {
  MuxOptions o;
  o.initial_window = 1000;
  Mux relay(Role::server, o), agent(Role::client, o);
  Recorder ra;
  auto id = *relay.open("{}");
  std::vector<std::uint8_t> wire;
  relay.take_output(wire);  // the OPEN
  // Limited by the window like write(); only the 12-byte header is in the output.
  EXPECT_EQ(relay.write_header(id, 1500), 1000u);
  EXPECT_EQ(relay.output_size(), kHeaderSize);
  EXPECT_EQ(relay.send_credit(id), 0u);
  EXPECT_EQ(relay.write_header(id, 10), 0u);
  EXPECT_EQ(relay.output_size(), kHeaderSize);  // nothing appended without credit
  std::vector<std::uint8_t> header;
  relay.take_output(header);
  const std::string payload(1000, 'p');
  wire.insert(wire.end(), header.begin(), header.end());
  wire.insert(wire.end(), payload.begin(), payload.end());
  ASSERT_TRUE(agent.feed(wire, ra));
  EXPECT_EQ(ra.data[id], payload);
}
