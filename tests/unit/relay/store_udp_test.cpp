// UDP port reservations are apart from TCP ones (schema version 3).
#include <gtest/gtest.h>

#include "../temp_dir.hpp"
#include "relay/scopes.hpp"
#include "relay/store.hpp"

namespace porthole::relay {
namespace {

TEST(StoreUdp, ReservationsApartFromTcpAndKeptAcrossRestarts) {
  test_util::TempDir dir;
  const auto data = (dir.path / "data").string();
  {
    auto s = Store::open(data);
    ASSERT_TRUE(s) << s.error().message;
    auto& store = **s;
    ASSERT_TRUE(store.reserve_port("a", "game", 5000));
    EXPECT_FALSE(store.reserved_udp_port("a", "game")) << "a TCP reservation is not a UDP one";
    ASSERT_TRUE(store.reserve_udp_port("b", "dns", 5000)) << "5000/udp is free although 5000/tcp is held";
    EXPECT_TRUE(store.port_reserved_by_other(5000, "b", "dns"));
    EXPECT_FALSE(store.udp_port_reserved_by_other(5000, "b", "dns"));
    EXPECT_TRUE(store.udp_port_reserved_by_other(5000, "a", "game"));
    auto clash = store.reserve_udp_port("c", "x", 5000);
    ASSERT_FALSE(clash);
    EXPECT_NE(clash.error().message.find("udp port 5000 is reserved by another tunnel"), std::string::npos);
    ASSERT_TRUE(store.reserve_udp_port("b", "dns", 5001));  // moved
    EXPECT_FALSE(store.udp_port_reserved_by_other(5000, "c", "x"));
  }
  auto s = Store::open(data);  // a relay restart: the same port back
  ASSERT_TRUE(s);
  EXPECT_EQ((*s)->reserved_udp_port("b", "dns"), 5001);
  EXPECT_EQ((*s)->reserved_port("a", "game"), 5000);
  ASSERT_TRUE((*s)->create_token("b", *parse_scopes("", "", "", "")));
  ASSERT_TRUE((*s)->revoke_token("b"));
  EXPECT_FALSE((*s)->reserved_udp_port("b", "dns")) << "revoking a token releases its UDP ports too";
}

}  // namespace
}  // namespace porthole::relay
