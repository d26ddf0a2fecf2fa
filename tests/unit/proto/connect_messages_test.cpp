// The messages of private endpoints and `porthole connect` (docs/protocol.md).
#include <gtest/gtest.h>

#include "proto/messages.hpp"
#include "proto/mux.hpp"

using namespace porthole;
using namespace porthole::proto;

TEST(ConnectMessages, HelloRole) {
  Hello h;
  h.token_id = "a";
  h.proof = "b";
  h.role = "connect";
  auto back = decode_control(encode(h));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(std::get<Hello>(*back).role, "connect");
  // An older agent sends no role: it is an agent.
  auto old = decode_control(R"({"type":"hello","version":1,"token_id":"a","proof":"b"})");
  ASSERT_TRUE(old);
  EXPECT_EQ(std::get<Hello>(*old).role, "agent");
  auto bad = decode_control(R"({"type":"hello","version":1,"token_id":"a","proof":"b","role":"exit"})");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("'role'"), std::string::npos);
}

TEST(ConnectMessages, PrivateBind) {
  Bind b;
  b.tunnel = "ssh";
  b.proto = "private";
  b.private_name = "pi";
  auto text = encode(b);
  EXPECT_NE(text.find(R"("private":"pi")"), std::string::npos) << text;
  auto back = decode_control(text);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(std::get<Bind>(*back).private_name, "pi");
  auto missing = decode_control(R"({"type":"bind","tunnel":"ssh","proto":"private"})");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("'private'"), std::string::npos);
}

TEST(ConnectMessages, ConnectOpenAndForbiddenReset) {
  auto back = decode_open(encode(OpenMeta{"pi", "", "connect"}));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->tunnel, "pi");
  EXPECT_EQ(back->kind, "connect");
  EXPECT_EQ(reset_code_of(Errc::forbidden), ResetCode::forbidden);
  EXPECT_EQ(errc_of(static_cast<std::uint32_t>(ResetCode::forbidden)), Errc::forbidden);
}
