#include <gtest/gtest.h>

#include "core/hostname.hpp"

namespace porthole {
namespace {

TEST(PrivateName, Normalises) {
  EXPECT_EQ(*normalize_private_name("pi"), "pi");
  EXPECT_EQ(*normalize_private_name("Office.NAS"), "office.nas");
  EXPECT_EQ(*normalize_private_name("db_1-a"), "db_1-a");
  EXPECT_EQ(normalize_private_name(std::string(63, 'a'))->size(), 63u);
}

TEST(PrivateName, RefusesWithAReason) {
  for (std::string_view bad : {"", "-pi", "pi-", ".pi", "p i", "pi/x", "bücher", "a\x01"}) {
    auto r = normalize_private_name(bad);
    EXPECT_FALSE(r) << bad;
  }
  EXPECT_NE(normalize_private_name(std::string(64, 'a')).error().message.find("longer than 63"), std::string::npos);
  EXPECT_NE(normalize_private_name("a\x01").error().message.find("\\x01"), std::string::npos);
}

}  // namespace
}  // namespace porthole
