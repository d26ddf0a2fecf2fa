#include "relay/port_choice.hpp"

#include <gtest/gtest.h>

#include <set>

using namespace porthole;
using namespace porthole::relay;

TEST(PortChoice, AskedPortMustBeAllowedAndFree) {
  std::set<std::uint16_t> busy{20001};
  auto usable = [&](std::uint16_t p) { return !busy.contains(p); };
  EXPECT_EQ(*choose_port({20005, std::nullopt, {20000, 20010}}, usable), 20005);
  auto r = choose_port({22, std::nullopt, {20000, 20010}}, usable);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("not allowed"), std::string::npos);
  r = choose_port({20001, std::nullopt, {20000, 20010}}, usable);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("in use"), std::string::npos);
}

TEST(PortChoice, ReservationThenFirstFree) {
  std::set<std::uint16_t> busy{20000};
  auto usable = [&](std::uint16_t p) { return !busy.contains(p); };
  EXPECT_EQ(*choose_port({std::nullopt, 20007, {20000, 20010}}, usable), 20007);
  EXPECT_EQ(*choose_port({std::nullopt, std::nullopt, {20000, 20010}}, usable), 20001);
  busy.insert(20007);  // the reservation is taken by something else: fall back
  EXPECT_EQ(*choose_port({std::nullopt, 20007, {20000, 20010}}, usable), 20001);
  EXPECT_EQ(*choose_port({std::nullopt, 30000, {20000, 20010}}, usable), 20001);  // outside the scope
}

TEST(PortChoice, ExhaustedRange) {
  auto r = choose_port({std::nullopt, std::nullopt, {20000, 20002}}, [](std::uint16_t) { return false; });
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("no free port"), std::string::npos);
}
