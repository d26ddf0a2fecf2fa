#include "proto/messages.hpp"

#include <gtest/gtest.h>

using namespace porthole::proto;

TEST(Messages, RoundTripEveryType) {
  std::vector<Control> all = {Hello{1, "pi", "abcd", "ff", "relay.example"},
                              Welcome{"s1", "0.1", "1.2.3.4:5"},
                              Bind{"ssh", "tcp", 2222, "127.0.0.1:22", "", "", "", ""},
                              Bind{"web", "http", std::nullopt, "127.0.0.1:3000", "app", "", "least-conn", "[[on_http_request]]\nname = \"x\"\n"},
                              Bound{"ssh", "tcp://localhost:2222"},
                              BindError{"ssh", "port taken"}, Unbind{"ssh"},
                              TakenOver{"ssh", "tcp://localhost:2222", "198.51.100.2:4000"}, Probe{25565},
                              ProbeResult{"1.2.3.4", true, ""}, Fatal{"auth", "bad token"}};
  for (const auto& m : all) {
    auto text = encode(m);
    auto back = decode_control(text);
    ASSERT_TRUE(back) << text << ": " << back.error().message;
    EXPECT_EQ(back->index(), m.index()) << text;
    EXPECT_EQ(encode(*back), text);
  }
}

TEST(Messages, PreciseErrors) {
  auto err = [](std::string_view text) {
    auto r = decode_control(text);
    EXPECT_FALSE(r) << text;
    return r ? std::string() : r.error().message;
  };
  EXPECT_NE(err("not json").find("malformed JSON"), std::string::npos);
  EXPECT_NE(err("[1]").find("JSON object"), std::string::npos);
  EXPECT_NE(err(R"({"type":"nope"})").find("unknown control message type 'nope'"), std::string::npos);
  EXPECT_NE(err(R"({"type":"bind","proto":"tcp"})").find("missing field 'tunnel'"), std::string::npos);
  EXPECT_NE(err(R"({"type":"bind","tunnel":"a","proto":"tcp","remote_port":70000})").find("out of range"),
            std::string::npos);
  EXPECT_NE(err(R"({"type":"bind","tunnel":"a","proto":"http","pool":"random"})").find("'pool' is unknown"),
            std::string::npos);
  EXPECT_NE(err(R"({"type":"hello","version":"1","token_id":"a","proof":"b"})").find("must be an integer"),
            std::string::npos);
}

TEST(Messages, OpenMeta) {
  auto m = decode_open(encode(OpenMeta{"web", "[::1]:5555", "http"}));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->tunnel, "web");
  EXPECT_EQ(m->visitor, "[::1]:5555");
  EXPECT_EQ(m->kind, "http");
  EXPECT_FALSE(decode_open("{}"));
}
