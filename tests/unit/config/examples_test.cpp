// Every file under examples/ is a valid config; a file on disk is read with paths resolved.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "config/config.hpp"

#ifndef PORTHOLE_SRC_DIR
#error "PORTHOLE_SRC_DIR must name the source tree (tests/CMakeLists.txt)"
#endif

namespace porthole::config {
namespace {

namespace fs = std::filesystem;

TEST(ConfigExamples, EveryExampleIsValid) {
  fs::path dir = fs::path(PORTHOLE_SRC_DIR) / "examples";
  int checked = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file() || entry.path().extension() != ".toml") continue;
    auto c = load_config(entry.path().string());
    EXPECT_TRUE(c) << entry.path() << ":\n" << (c ? "" : c.error().message);
    ++checked;
  }
  EXPECT_GE(checked, 2);
}

TEST(ConfigExamples, ShippedExamplesHaveTheirKinds) {
  fs::path dir = fs::path(PORTHOLE_SRC_DIR) / "examples";
  auto relay = load_relay_config((dir / "relay.toml").string());
  ASSERT_TRUE(relay) << relay.error().message;
  EXPECT_EQ(relay->data_dir, (dir / "porthole-data").string());  // relative to the file
  auto agent = load_agent_config((dir / "porthole.toml").string());
  ASSERT_TRUE(agent) << agent.error().message;
  ASSERT_EQ(agent->tunnels.size(), 6u);
  EXPECT_EQ(agent->tunnels[0].name, "ssh");
  EXPECT_EQ(agent->tunnels[1].local.port, 3000);
  EXPECT_EQ(agent->tunnels[1].proto, "http");
  EXPECT_EQ(agent->tunnels[1].subdomain, "app");
  EXPECT_EQ(agent->tunnels[1].health_check, "/healthz");
  EXPECT_EQ(agent->tunnels[2].proto, "tcp");
  EXPECT_EQ(agent->tunnels[3].remote_port, std::optional<std::uint16_t>(25565));
  EXPECT_EQ(agent->tunnels[4].private_name, "pi");
  EXPECT_EQ(agent->tunnels[5].proto, "udp");
  EXPECT_EQ(agent->tunnels[5].remote_port, std::optional<std::uint16_t>(20053));
  EXPECT_EQ(relay->upstream_timeout, std::chrono::seconds(60));
  EXPECT_EQ(relay->max_http_conns_per_ip, 256u);
}

TEST(ConfigLoad, MissingFileAndDirectory) {
  auto c = load_config("/nonexistent/porthole.toml");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().message, "/nonexistent/porthole.toml: cannot read: No such file or directory");
  auto d = load_config(PORTHOLE_SRC_DIR);
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().message.find("is a directory"), std::string::npos);
}

TEST(ConfigLoad, RelativePathsFollowTheFile) {
  fs::path dir = fs::temp_directory_path() / ("porthole-config-test-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::path file = dir / "relay.toml";
  std::ofstream(file) << "version = 1\n[relay]\ncert = \"tls/c.pem\"\nkey = \"/abs/k.pem\"\n";
  auto c = load_relay_config(file.string());
  fs::remove_all(dir);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->cert_file, (dir / "tls/c.pem").string());
  EXPECT_EQ(c->key_file, "/abs/k.pem");
  EXPECT_EQ(c->data_dir, "./porthole-data");  // the default stays relative to the working dir
}

}  // namespace
}  // namespace porthole::config
