// Reload semantics: tunnels matched by name; added / removed / changed; session settings.
#include <gtest/gtest.h>

#include "config/diff.hpp"

namespace porthole::config {
namespace {

TunnelConfig tunnel(std::string name, std::uint16_t port, std::optional<std::uint16_t> remote = {}) {
  TunnelConfig t;
  t.name = std::move(name);
  t.local = HostPort{"127.0.0.1", port};
  t.remote_port = remote;
  return t;
}

std::vector<std::string> names(const std::vector<TunnelConfig>& ts) {
  std::vector<std::string> out;
  for (const auto& t : ts) out.push_back(t.name);
  return out;
}

TEST(ConfigDiff, IdenticalIsEmpty) {
  AgentConfig a;
  a.tunnels = {tunnel("ssh", 22), tunnel("web", 3000)};
  AgentConfig b = a;
  b.tunnels[0].source_line = 42;  // moving a block in the file changes nothing
  EXPECT_TRUE(diff(a, b).empty());
}

TEST(ConfigDiff, AddedRemovedChangedByName) {
  AgentConfig a;
  a.tunnels = {tunnel("ssh", 22), tunnel("web", 3000), tunnel("old", 1)};
  AgentConfig b;
  b.tunnels = {tunnel("new", 9), tunnel("web", 3001), tunnel("ssh", 22), tunnel("mc", 25565, 25565)};
  auto d = diff(a, b);
  EXPECT_EQ(names(d.added), (std::vector<std::string>{"new", "mc"}));
  EXPECT_EQ(names(d.removed), (std::vector<std::string>{"old"}));
  ASSERT_EQ(names(d.changed), (std::vector<std::string>{"web"}));
  EXPECT_EQ(d.changed[0].local.port, 3001);  // the new version
  EXPECT_FALSE(d.session_changed);
  EXPECT_FALSE(d.empty());
}

TEST(ConfigDiff, EveryTunnelFieldCounts) {
  AgentConfig a;
  a.tunnels = {tunnel("t", 22)};
  AgentConfig b = a;
  b.tunnels[0].remote_port = 2222;
  EXPECT_EQ(diff(a, b).changed.size(), 1u);
  b = a;
  b.tunnels[0].local.host = "::1";
  EXPECT_EQ(diff(a, b).changed.size(), 1u);
  b = a;
  b.tunnels[0].proto = "udp";
  EXPECT_EQ(diff(a, b).changed.size(), 1u);
}

TEST(ConfigDiff, SessionSettings) {
  AgentConfig a;
  AgentConfig b = a;
  b.token = "other";
  EXPECT_TRUE(diff(a, b).session_changed);
  b = a;
  b.relay = "r:7000";
  EXPECT_TRUE(diff(a, b).session_changed);
  b = a;
  b.heartbeat.timeout = std::chrono::seconds(30);  // not a session identity change
  EXPECT_TRUE(diff(a, b).empty());
}

TEST(ConfigDiff, EmptyToSomeAndBack) {
  AgentConfig none;
  AgentConfig some;
  some.tunnels = {tunnel("a", 1), tunnel("b", 2)};
  EXPECT_EQ(diff(none, some).added.size(), 2u);
  EXPECT_EQ(diff(some, none).removed.size(), 2u);
}

}  // namespace
}  // namespace porthole::config
