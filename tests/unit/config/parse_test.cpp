// Loading valid relay and agent files: defaults, normalisation, every value kind.
#include <gtest/gtest.h>

#include <cstdlib>

#include "config/config.hpp"

namespace porthole::config {
namespace {

using std::chrono::seconds;

TEST(ConfigRelay, MinimalFileGivesDefaults) {
  auto c = parse_relay_config("version = 1\n[relay]\n", "relay.toml");
  ASSERT_TRUE(c) << c.error().message;
  RelayConfig d;
  EXPECT_EQ(c->agents, d.agents);
  EXPECT_EQ(c->admin, "127.0.0.1:7001");
  EXPECT_EQ(c->tcp_ports, (PortRange{20000, 29999}));
  EXPECT_EQ(c->heartbeat.timeout, seconds(10));
  EXPECT_EQ(c->data_dir, "./porthole-data");
}

TEST(ConfigRelay, EveryKey) {
  auto c = parse_relay_config(R"(version = 1
[relay]
agents = "7100"
http = "[::]:80"
https = "127.0.0.1:443"
admin = "7001"
domain = "Tunnels.Example.COM"
tcp_ports = "30000-30010"
udp_ports = 40000
data_dir = "/var/lib/porthole"
cert = "/etc/c.pem"
key = "/etc/k.pem"
tokens = ["abc", "def"]
heartbeat_interval = "2s"
heartbeat_timeout = 20
handshake_timeout = "1m"
max_pending_handshakes = 100
max_pending_per_ip = 4
shutdown_grace = "0s"
)",
                              "r.toml");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->agents, "0.0.0.0:7100");
  EXPECT_EQ(c->http, "[::]:80");
  EXPECT_EQ(c->admin, "127.0.0.1:7001");
  EXPECT_EQ(c->domain, "tunnels.example.com");
  EXPECT_EQ(c->tcp_ports, (PortRange{30000, 30010}));
  EXPECT_EQ(c->udp_ports, (PortRange{40000, 40000}));
  EXPECT_EQ(c->cert_file, "/etc/c.pem");
  EXPECT_EQ(c->tokens, (std::vector<std::string>{"abc", "def"}));
  EXPECT_EQ(c->heartbeat.interval, seconds(2));
  EXPECT_EQ(c->heartbeat.timeout, seconds(20));
  EXPECT_EQ(c->handshake_timeout, seconds(60));
  EXPECT_EQ(c->max_pending_handshakes, 100u);
  EXPECT_EQ(c->max_pending_per_ip, 4u);
  EXPECT_EQ(c->shutdown_grace, seconds(0));
}

TEST(ConfigAgent, TunnelsAndAgentTable) {
  auto c = parse_agent_config(R"(version = 1
[agent]
relay = "relay.example.com:7000"
token = "s3cret"
relay_fingerprint = "SHA256:AB:CD:ef0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
name = "box"
inspect = "off"
exit_on_failure = true

[[tunnel]]
name = "ssh"
local = "22"
remote_port = 2222

[[tunnel]]
name = "web"
proto = "tcp"
local = 3000

[[tunnel]]
name = "v6"
local = "[::1]:8080"
)",
                              "a.toml");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->relay, "relay.example.com:7000");
  EXPECT_EQ(c->token, "s3cret");
  EXPECT_EQ(c->relay_fingerprint, "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
  EXPECT_EQ(c->inspect, "off");
  EXPECT_TRUE(c->exit_on_failure);
  ASSERT_EQ(c->tunnels.size(), 3u);
  EXPECT_EQ(c->tunnels[0].name, "ssh");
  EXPECT_EQ(c->tunnels[0].local, (HostPort{"127.0.0.1", 22}));
  EXPECT_EQ(c->tunnels[0].remote_port, std::optional<std::uint16_t>(2222));
  EXPECT_EQ(c->tunnels[0].source_line, 10);
  EXPECT_EQ(c->tunnels[1].local, (HostPort{"127.0.0.1", 3000}));
  EXPECT_EQ(c->tunnels[1].proto, "tcp");
  EXPECT_FALSE(c->tunnels[1].remote_port);
  EXPECT_EQ(c->tunnels[2].local, (HostPort{"::1", 8080}));
}

TEST(ConfigAgent, TunnelsOnlyIsAnAgentFile) {
  auto c = parse_config("version = 1\n[[tunnel]]\nname = \"a\"\nlocal = 80\n", "x.toml");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->kind, FileKind::agent);
  EXPECT_EQ(c->agent.tunnels.size(), 1u);
  auto r = parse_config("version = 1\n[relay]\n", "x.toml");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->kind, FileKind::relay);
}

TEST(ConfigAgent, InspectDb) {
  auto c = parse_agent_config("version = 1\n[agent]\ninspect_db = \"/var/lib/p/captures.db\"\n", "a");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->inspect_db, "/var/lib/p/captures.db");
  auto s = parse_agent_config("version = 1\n[agent]\ninspect_db = \"state\"\n", "a");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->inspect_db, "state");
  auto bad = parse_agent_config("version = 1\n[agent]\ninspect_db = \"\"\n", "a");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("agent.inspect_db: must not be empty"), std::string::npos) << bad.error().message;
}

TEST(ConfigAgent, TokenFromEnvironment) {
  ::setenv("PORTHOLE_TEST_TOKEN_ENV", "from-env", 1);
  auto c = parse_agent_config("version = 1\n[agent]\ntoken_env = \"PORTHOLE_TEST_TOKEN_ENV\"\n", "a");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->token, "from-env");
  ::unsetenv("PORTHOLE_TEST_TOKEN_ENV");
  auto missing = parse_agent_config("version = 1\n[agent]\ntoken_env = \"PORTHOLE_TEST_TOKEN_ENV\"\n", "a");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message,
            "a:3: agent.token_env: environment variable PORTHOLE_TEST_TOKEN_ENV is not set");
}

TEST(ConfigValues, Durations) {
  using std::chrono::milliseconds;
  EXPECT_EQ(*parse_duration("10"), milliseconds(10000));
  EXPECT_EQ(*parse_duration("500ms"), milliseconds(500));
  EXPECT_EQ(*parse_duration("2m"), milliseconds(120000));
  EXPECT_EQ(*parse_duration("1h30m"), milliseconds(5400000));
  EXPECT_EQ(*parse_duration("0s"), milliseconds(0));
  for (const char* bad : {"", "s", "10x", "-1s", "1.5s", "10 s", "5m3", "99999999999999999999s", "721h"}) {
    EXPECT_FALSE(parse_duration(bad)) << bad;
  }
}

TEST(ConfigValues, Fingerprints) {
  std::string hex(64, 'a');
  EXPECT_EQ(*normalize_fingerprint(hex), hex);
  EXPECT_EQ(*normalize_fingerprint("sha256:" + std::string(64, 'A')), hex);
  EXPECT_FALSE(normalize_fingerprint(std::string(63, 'a')));
  EXPECT_FALSE(normalize_fingerprint(std::string(64, 'g')));
}

TEST(ConfigValues, Names) {
  EXPECT_TRUE(is_valid_name("web-1.app_x"));
  EXPECT_FALSE(is_valid_name(""));
  EXPECT_FALSE(is_valid_name("-x"));
  EXPECT_FALSE(is_valid_name("a b"));
  EXPECT_FALSE(is_valid_name(std::string(64, 'a')));
}

TEST(ConfigPaths, DefaultAgentPath) {
  const char* old_home = std::getenv("HOME");
  std::string saved = old_home != nullptr ? old_home : "";
  ::setenv("XDG_CONFIG_HOME", "/xdg", 1);
  EXPECT_EQ(default_agent_config_path(), "/xdg/porthole/porthole.toml");
  ::unsetenv("XDG_CONFIG_HOME");
  ::setenv("HOME", "/home/u", 1);
  EXPECT_EQ(default_agent_config_path(), "/home/u/.config/porthole/porthole.toml");
  if (old_home != nullptr) ::setenv("HOME", saved.c_str(), 1);
}


TEST(ConfigHttps, CertificatesAndHttpsKeys) {
  auto c = parse_relay_config(R"(version = 1
[relay]
https = "off"
tls_handshake_timeout = "3s"
max_tls_handshakes = 100
[[certificate]]
host = "*.example.test"
cert = "/etc/w.pem"
key = "/etc/w-key.pem"
[[certificate]]
cert = "/etc/e.pem"
key = "/etc/e-key.pem"
)",
                              "relay.toml");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->https, "off");
  EXPECT_EQ(c->tls_handshake_timeout, std::chrono::seconds(3));
  EXPECT_EQ(c->max_tls_handshakes, 100u);
  ASSERT_EQ(c->certificates.size(), 2u);
  EXPECT_EQ(c->certificates[0].host, "*.example.test");
  EXPECT_EQ(c->certificates[1].host, "");
  EXPECT_EQ(c->certificates[1].key_file, "/etc/e-key.pem");
  auto bad = parse_relay_config("version = 1\n[[certificate]]\nhost = \"a b\"\ncert = \"/c\"\n", "relay.toml");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("certificate[0].host"), std::string::npos) << bad.error().message;
  EXPECT_NE(bad.error().message.find("certificate[0].key: missing"), std::string::npos) << bad.error().message;
}

TEST(ConfigHttps, TlsKindAndEdgeKeys) {
  auto c = parse_agent_config(R"(version = 1
[[tunnel]]
name = "pass"
kind = "tls"
local = 8443
hostname = "secure.example.test"
[[tunnel]]
name = "web"
kind = "http"
local = 3000
redirect_https = true
hsts = true
mtls_ca = "/etc/ca.pem"
[[tunnel]]
name = "web2"
kind = "http"
local = 3001
hsts = 600
)",
                              "porthole.toml");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->tunnels[0].proto, "tls");
  EXPECT_EQ(c->tunnels[0].hostname, "secure.example.test");
  EXPECT_TRUE(c->tunnels[1].redirect_https);
  EXPECT_EQ(c->tunnels[1].hsts_max_age, 31536000u);
  EXPECT_EQ(c->tunnels[1].mtls_ca, "/etc/ca.pem");
  EXPECT_EQ(c->tunnels[2].hsts_max_age, 600u);
  // Not yet: said so, naming the key. Keys of another kind are unknown keys.
  auto agent = parse_agent_config("version = 1\n[[tunnel]]\nname = \"a\"\nkind = \"http\"\nlocal = 1\nterminate_at = \"agent\"\n", "p");
  ASSERT_FALSE(agent);
  EXPECT_NE(agent.error().message.find("terminate_at"), std::string::npos);
  EXPECT_FALSE(parse_agent_config("version = 1\n[[tunnel]]\nname = \"a\"\nkind = \"tls\"\nlocal = 1\nhsts = true\n", "p"));
}

}  // namespace
}  // namespace porthole::config

namespace porthole::config {
namespace {

TEST(ConfigProxyProtocol, RelayAndTunnelKeys) {
  auto r = parse_relay_config(R"(version = 1
[relay]
accept_proxy_protocol_from = ["10.0.0.5/32", "2001:db8::/64"]
proxy_header_timeout = "3s"
)",
                              "relay.toml");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->accept_proxy_protocol_from, (std::vector<std::string>{"10.0.0.5/32", "2001:db8::/64"}));
  EXPECT_EQ(r->proxy_header_timeout, std::chrono::seconds(3));
  EXPECT_EQ(RelayConfig{}.accept_proxy_protocol_from.size(), 0u);
  auto bad = parse_relay_config("version = 1\n[relay]\naccept_proxy_protocol_from = [\"lb.example\"]\n", "relay.toml");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("accept_proxy_protocol_from"), std::string::npos) << bad.error().message;

  auto a = parse_agent_config(R"(version = 1
[[tunnel]]
name = "smtp"
local = 25
upstream_proxy_protocol = 1
[[tunnel]]
name = "web"
kind = "http"
local = 8080
upstream_proxy_protocol = 2
[[tunnel]]
name = "plain"
local = 22
)",
                              "porthole.toml");
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->tunnels[0].upstream_proxy_protocol, 1);
  EXPECT_EQ(a->tunnels[1].upstream_proxy_protocol, 2);
  EXPECT_EQ(a->tunnels[2].upstream_proxy_protocol, 0);
  auto three = parse_agent_config("version = 1\n[[tunnel]]\nname = \"x\"\nlocal = 1\nupstream_proxy_protocol = 3\n", "p");
  ASSERT_FALSE(three);
  EXPECT_NE(three.error().message.find("upstream_proxy_protocol"), std::string::npos) << three.error().message;
}

TEST(ConfigAgent, UpstreamProxyProtocolForTlsAndUdp) {
  auto a = parse_agent_config(R"(version = 1
[[tunnel]]
name = "pass"
kind = "tls"
local = 8443
hostname = "pass.example.test"
upstream_proxy_protocol = 1
[[tunnel]]
name = "game"
kind = "udp"
local = 27015
upstream_proxy_protocol = 2
)",
                              "porthole.toml");
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->tunnels[0].upstream_proxy_protocol, 1);
  EXPECT_EQ(a->tunnels[1].upstream_proxy_protocol, 2);
  // v1 has no datagram form.
  auto v1 = parse_agent_config("version = 1\n[[tunnel]]\nname = \"u\"\nkind = \"udp\"\nlocal = 1\nupstream_proxy_protocol = 1\n", "p");
  ASSERT_FALSE(v1);
  EXPECT_NE(v1.error().message.find("no UDP form"), std::string::npos) << v1.error().message;
}

}  // namespace
}  // namespace porthole::config
