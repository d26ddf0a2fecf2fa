#include "proto/messages.hpp"

#include <gtest/gtest.h>

using namespace porthole::proto;

TEST(Messages, RoundTripEveryType) {
  std::vector<Control> all = {Hello{1, "pi", "abcd", "ff", "relay.example", "agent"},
                              Welcome{"s1", "0.1", "1.2.3.4:5"},
                              Bind{"ssh", "tcp", 2222, "127.0.0.1:22", "", "", "", "", "", "", false, "", ""},
                              Bind{"web", "http", std::nullopt, "127.0.0.1:3000", "app", "", "least-conn", "",
                                   "[[on_http_request]]\nname = \"x\"\n", "", false, "", ""},
                              Bind{"sec", "http", std::nullopt, "127.0.0.1:3000", "s", "", "", "", "", "relay", true,
                                   "max-age=60", std::string(5000, 'A')},
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

TEST(Messages, BindHttpsFields) {
  // An older agent's bind (no https fields) still decodes, with everything off.
  auto old = decode_control(R"({"type":"bind","tunnel":"a","proto":"http","local":"x"})");
  ASSERT_TRUE(old);
  const auto& b = std::get<Bind>(*old);
  EXPECT_EQ(b.terminate_at, "");
  EXPECT_FALSE(b.redirect_https);
  EXPECT_EQ(b.mtls_ca, "");
  EXPECT_FALSE(decode_control(R"({"type":"bind","tunnel":"a","proto":"http","terminate_at":"moon"})"));
  EXPECT_FALSE(decode_control(R"({"type":"bind","tunnel":"a","proto":"http","hsts":"max-age=1\r\nX: y"})"));
  EXPECT_FALSE(decode_control(R"({"type":"bind","tunnel":"a","proto":"http","redirect_https":"yes"})"));
  const std::string big = R"({"type":"bind","tunnel":"a","proto":"http","mtls_ca":")" + std::string(40000, 'A') + "\"}";
  EXPECT_FALSE(decode_control(big));
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
  EXPECT_EQ(m->dest, "");
  EXPECT_FALSE(decode_open("{}"));
  // `dest` (what the visitor connected to) is optional both ways: older relays omit it.
  m = decode_open(encode(OpenMeta{"db", "127.0.0.2:4000", "", "127.0.0.1:20000"}));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->dest, "127.0.0.1:20000");
  EXPECT_EQ(encode(OpenMeta{"db", "1.2.3.4:5", "", ""}).find("dest"), std::string::npos);
  EXPECT_FALSE(decode_open(R"({"tunnel":"db","dest":7})"));
}
