#include "agent/known_relays.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "../temp_dir.hpp"

namespace porthole::agent {
namespace {

namespace fs = std::filesystem;
using porthole::test_util::file_mode;
using porthole::test_util::slurp;
using porthole::test_util::TempDir;

const std::string kA(64, 'a');
const std::string kB(64, 'b');

TEST(KnownRelays, ParsesLinesCommentsAndSpellings) {
  std::vector<int> bad;
  auto e = parse_known_relays(
      "# porthole known relays\n"
      "\n"
      "relay.example:7000 " +
          kA +
          "\n"
          "  [::1]:7000\tSHA256:" +
          std::string(64, 'B') +
          "   # comment\r\n"
          "garbage\n"
          "host:notaport " +
          kA +
          "\n"
          "Relay.Example:7001 sha256:" +
          kB,
      &bad);
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0].relay, "relay.example:7000");
  EXPECT_EQ(e[0].fingerprint, kA);
  EXPECT_EQ(e[0].line, 3);
  EXPECT_EQ(e[1].relay, "[::1]:7000");
  EXPECT_EQ(e[1].fingerprint, kB);
  EXPECT_EQ(e[1].line, 4);
  EXPECT_EQ(e[2].relay, "relay.example:7001");
  EXPECT_EQ(e[2].line, 7);
  EXPECT_EQ(bad, (std::vector<int>{5, 6}));
  EXPECT_TRUE(parse_known_relays("").empty());
}

TEST(KnownRelays, KeyNormalisesCaseAndBrackets) {
  EXPECT_EQ(*known_relay_key("RELAY.example:7000"), "relay.example:7000");
  EXPECT_EQ(*known_relay_key("[::1]:7000"), "[::1]:7000");
  EXPECT_FALSE(known_relay_key("nohostport"));
}

TEST(KnownRelays, RecordThenMatchThenMismatch) {
  TempDir d;
  auto file = (d.path / "sub" / "known_relays").string();
  auto r = check_known_relay(file, "relay.example:7000", "SHA256:" + kA);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, TofuOutcome::recorded);
  EXPECT_EQ(slurp(file), "relay.example:7000 " + kA + "\n");
  EXPECT_EQ(file_mode(d.path / "sub"), 0700u);

  r = check_known_relay(file, "Relay.Example:7000", kA);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, TofuOutcome::matched);

  r = check_known_relay(file, "relay.example:7000", kB);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("RELAY IDENTITY HAS CHANGED"), std::string::npos);
  EXPECT_NE(r.error().message.find("delete line 1 of " + file), std::string::npos) << r.error().message;

  // The same fingerprint under another port is a new relay.
  r = check_known_relay(file, "relay.example:7001", kB);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, TofuOutcome::recorded);
  EXPECT_EQ(parse_known_relays(slurp(file)).size(), 2u);
}

TEST(KnownRelays, AppendsAfterAFileWithoutTrailingNewline) {
  TempDir d;
  auto file = (d.path / "known_relays").string();
  std::ofstream(file) << "# hand-written\nrelay.example:7000 " << kA;
  ASSERT_TRUE(check_known_relay(file, "other.example:7000", kB));
  auto e = parse_known_relays(slurp(file));
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[1].relay, "other.example:7000");
  EXPECT_EQ(e[1].line, 3);
}

TEST(KnownRelays, RejectsBadInput) {
  TempDir d;
  auto file = (d.path / "known_relays").string();
  EXPECT_FALSE(check_known_relay(file, "relay.example:7000", "xyz"));
  EXPECT_FALSE(check_known_relay(file, "relay.example", kA));
  EXPECT_FALSE(fs::exists(file));
}

TEST(KnownRelays, DefaultPathFollowsXdg) {
  const char* old_xdg = std::getenv("XDG_CONFIG_HOME");
  std::string saved = old_xdg ? old_xdg : "";
  ::setenv("XDG_CONFIG_HOME", "/xdg", 1);
  EXPECT_EQ(default_known_relays_path(), "/xdg/porthole/known_relays");
  ::unsetenv("XDG_CONFIG_HOME");
  const char* home = std::getenv("HOME");
  if (home != nullptr && home[0] != '\0') {
    EXPECT_EQ(default_known_relays_path(), std::string(home) + "/.config/porthole/known_relays");
  }
  if (old_xdg) ::setenv("XDG_CONFIG_HOME", saved.c_str(), 1);
}

}  // namespace
}  // namespace porthole::agent
