#include "forward/rules.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

using namespace porthole;
using namespace porthole::forward;

namespace {
bool has(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }
}  // namespace

TEST(ForwardRules, FlagForms) {
  auto r = parse_rule_arg("8080:example.test:80", Proto::tcp, {});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->bind_host, "127.0.0.1");
  EXPECT_EQ(r->ports, (PortRange{8080, 8080}));
  EXPECT_EQ(r->target_host, "example.test");
  EXPECT_EQ(r->target_ports, (PortRange{80, 80}));

  r = parse_rule_arg("0.0.0.0:8000-8010:10.0.0.5:9000-9010", Proto::udp, {"10.0.0.0/8"});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->proto, Proto::udp);
  EXPECT_EQ(r->bind_host, "0.0.0.0");
  EXPECT_EQ(r->ports, (PortRange{8000, 8010}));
  EXPECT_EQ(r->target_ports, (PortRange{9000, 9010}));
  EXPECT_EQ(r->allow, std::vector<std::string>{"10.0.0.0/8"});

  r = parse_rule_arg("[::1]:8080:[::1]:80", Proto::tcp, {});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->bind_host, "::1");
  EXPECT_EQ(r->target_host, "::1");

  r = parse_rule_arg("2456-2458:game.lan:2456", Proto::udp, {});  // many-to-one
  ASSERT_TRUE(r) << r.error().message;
  auto ls = expand({*r});
  ASSERT_TRUE(ls);
  ASSERT_EQ(ls->size(), 3u);
  EXPECT_EQ((*ls)[2].port, 2458);
  EXPECT_EQ((*ls)[2].target_port, 2456);
}

// A unix socket as the target: every listening port of the rule leads to it; tcp only.
TEST(ForwardRules, UnixSocketTargets) {
  auto r = parse_rule_arg("8080:unix:/run/app.sock", Proto::tcp, {});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->ports, (PortRange{8080, 8080}));
  EXPECT_EQ(r->target_host, "unix:/run/app.sock");
  r = parse_rule_arg("0.0.0.0:8000-8002:unix:/run/app.sock", Proto::tcp, {"10.0.0.0/8"});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->bind_host, "0.0.0.0");
  auto ls = expand({*r});
  ASSERT_TRUE(ls);
  ASSERT_EQ(ls->size(), 3u);
  EXPECT_EQ((*ls)[2].target(), "unix:/run/app.sock");
  auto bad = parse_rule_arg("8080:unix:/run/app.sock", Proto::udp, {});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("tcp rules only"), std::string::npos) << bad.error().message;
  bad = parse_rule_arg("8080:unix:relative.sock", Proto::tcp, {});  // not absolute: a host "unix"
  EXPECT_FALSE(bad);
  auto file = parse_rules_file("tcp 9000 unix:/run/a.sock allow 127.0.0.0/8\nudp 9001 unix:/run/a.sock\n", "f");
  ASSERT_FALSE(file);
  EXPECT_NE(file.error().message.find("f:2: target 'unix:/run/a.sock': a unix socket is a stream socket"),
            std::string::npos)
      << file.error().message;
  file = parse_rules_file("tcp 9000 unix:/run/a.sock allow 127.0.0.0/8\n", "f");
  ASSERT_TRUE(file) << file.error().message;
  EXPECT_EQ(file->at(0).target_host, "unix:/run/a.sock");
}

TEST(ForwardRules, FlagErrorsNameTheArgument) {
  const std::pair<std::string_view, std::string_view> bad[] = {
      {"8080", "expected [BIND:]PORT:HOST:HOSTPORT"},
      {"8080:h", "expected [BIND:]PORT:HOST:HOSTPORT"},
      {"::1:8080:h:80", "expected"},
      {"8080:::1:80", "expected"},
      {"70000:h:80", "listen port '70000'"},
      {"8080:h:0", "target port '0'"},
      {"8000-8010:h:9000-9001", "has 11 ports but target range 9000-9001 has 2"},
      {"8000:h:9000-9001", "has 1 ports but target range"},
      {"8010-8000:h:80", "listen port"},
      {"1.2.3:80:h:80", "bind address '1.2.3'"},
      {"80:bad host:80", "not a host name"},
      {"[::1:80:h:80", "'[' without ']'"},
      {"[::1]x:80:h:80", "']' must be followed by ':'"},
      {"80:[nothex]:80", "not an IPv6 address"},
  };
  for (const auto& [arg, want] : bad) {
    auto r = parse_rule_arg(arg, Proto::tcp, {});
    ASSERT_FALSE(r) << arg;
    EXPECT_TRUE(has(r.error().message, want)) << arg << ": " << r.error().message;
    EXPECT_TRUE(has(r.error().message, "rule '")) << r.error().message;
  }
  auto r = parse_rule_arg("80:h:80", Proto::tcp, {"10.0.0.0/33"});
  ASSERT_FALSE(r);
  EXPECT_TRUE(has(r.error().message, "allow: CIDR '10.0.0.0/33'")) << r.error().message;
}

TEST(ForwardRules, FileWithCommentsAndAllowLists) {
  const char* text =
      "# router rules\n"
      "tcp 8080 127.0.0.1:80   # web\n"
      "\n"
      "udp 0.0.0.0:53 dns.lan:53 allow 10.0.0.0/8,192.168.0.0/16\n"
      "  tcp [::1]:2222 [::1]:22 allow ::1\r\n"
      "udp 2456-2458 10.0.0.9:2456-2458";  // no newline at the end
  auto rules = parse_rules_file(text, "rules.txt");
  ASSERT_TRUE(rules) << rules.error().message;
  ASSERT_EQ(rules->size(), 4u);
  EXPECT_EQ((*rules)[0].origin, "rules.txt:2");
  EXPECT_EQ((*rules)[1].allow, (std::vector<std::string>{"10.0.0.0/8", "192.168.0.0/16"}));
  EXPECT_EQ((*rules)[1].bind_host, "0.0.0.0");
  EXPECT_EQ((*rules)[2].bind_host, "::1");
  EXPECT_EQ((*rules)[2].origin, "rules.txt:5");
  EXPECT_EQ((*rules)[3].proto, Proto::udp);
  auto ls = expand(*rules);
  ASSERT_TRUE(ls) << ls.error().message;
  EXPECT_EQ(ls->size(), 6u);
  EXPECT_EQ(ls->back().key(), "udp 127.0.0.1:2458");
  EXPECT_EQ(ls->back().target(), "10.0.0.9:2458");
  EXPECT_TRUE(parse_rules_file("", "empty")) << "an empty file forwards nothing";
  EXPECT_TRUE(parse_rules_file("# nothing\n\n", "c"));
}

TEST(ForwardRules, FileErrorsAllNamedByLine) {
  const char* text =
      "tcp 8080 127.0.0.1:80\n"
      "sctp 1 h:1\n"
      "tcp 8081\n"
      "tcp 8082 h:82 allow\n"
      "tcp 8083 h:83 deny 1.2.3.4\n"
      "udp 8084 h:84 allow 1.2.3.4/40\n"
      "tcp 8085 h:85\n";
  auto r = parse_rules_file(text, "f.rules");
  ASSERT_FALSE(r);
  const auto& m = r.error().message;
  EXPECT_TRUE(has(m, "f.rules:2: 'sctp': a rule starts with tcp or udp")) << m;
  EXPECT_TRUE(has(m, "f.rules:3: expected `tcp [BIND:]PORT")) << m;
  EXPECT_TRUE(has(m, "f.rules:4: allow: a comma-separated CIDR list is missing")) << m;
  EXPECT_TRUE(has(m, "f.rules:5: 'deny'")) << m;
  EXPECT_TRUE(has(m, "f.rules:6: allow: CIDR '1.2.3.4/40'")) << m;
  EXPECT_FALSE(has(m, "f.rules:1:")) << m;
  EXPECT_FALSE(has(m, "f.rules:7:")) << m;
  // Bytes that are not text are shown escaped, never copied raw into a message.
  auto bin = parse_rules_file(std::string_view("tc\x01p 1 h:1\n", 11), "b");
  ASSERT_FALSE(bin);
  EXPECT_TRUE(has(bin.error().message, "tc\\x01p")) << bin.error().message;
}

TEST(ForwardRules, DuplicatesAndTooManyPorts) {
  auto rules = parse_rules_file("tcp 8000-8010 h:9000-9010\ntcp 8005 h:1\nudp 8005 h:1\n", "d");
  ASSERT_TRUE(rules);
  auto ls = expand(*rules);
  ASSERT_FALSE(ls);
  EXPECT_TRUE(has(ls.error().message, "d:2: tcp 127.0.0.1:8005 is already forwarded by d:1")) << ls.error().message;
  auto big = parse_rules_file("tcp 1-65535 h:1\n", "big");
  ASSERT_TRUE(big);
  auto lb = expand(*big);
  ASSERT_FALSE(lb);
  EXPECT_TRUE(has(lb.error().message, "more than 4096")) << lb.error().message;
}

TEST(ForwardRules, DiffByKey) {
  auto old_rules = parse_rules_file("tcp 1000 a:1\ntcp 1001 a:2\nudp 1002 a:3\ntcp 1003 a:4 allow 10.0.0.0/8\n", "o");
  auto new_rules = parse_rules_file(
      "# moved lines, same behaviour\ntcp 1001 a:2\ntcp 1000 a:1\ntcp 1003 a:4 allow 10.0.0.0/9\nudp 1004 a:5\n", "n");
  ASSERT_TRUE(old_rules && new_rules);
  auto d = diff(*expand(*old_rules), *expand(*new_rules));
  EXPECT_EQ(d.unchanged, 2u);
  ASSERT_EQ(d.changed.size(), 1u);
  EXPECT_EQ(d.changed[0].key(), "tcp 127.0.0.1:1003");
  ASSERT_EQ(d.added.size(), 1u);
  EXPECT_EQ(d.added[0].key(), "udp 127.0.0.1:1004");
  ASSERT_EQ(d.removed.size(), 1u);
  EXPECT_EQ(d.removed[0].key(), "udp 127.0.0.1:1002");
  EXPECT_TRUE(diff(*expand(*old_rules), *expand(*old_rules)).empty());
}

TEST(ForwardRules, Loopback) {
  EXPECT_TRUE(is_loopback_host("127.0.0.1"));
  EXPECT_TRUE(is_loopback_host("127.3.2.1"));
  EXPECT_TRUE(is_loopback_host("::1"));
  EXPECT_TRUE(is_loopback_host("::ffff:127.0.0.1"));
  EXPECT_TRUE(is_loopback_host("localhost"));
  EXPECT_FALSE(is_loopback_host("0.0.0.0"));
  EXPECT_FALSE(is_loopback_host("::"));
  EXPECT_FALSE(is_loopback_host("192.168.1.2"));
}

TEST(ForwardRules, ExampleFileParses) {
  std::ifstream in(std::string(PORTHOLE_SRC_DIR) + "/examples/forward.rules");
  ASSERT_TRUE(in);
  std::stringstream ss;
  ss << in.rdbuf();
  auto rules = parse_rules_file(ss.str(), "examples/forward.rules");
  ASSERT_TRUE(rules) << rules.error().message;
  EXPECT_EQ(rules->size(), 5u);
  auto ls = expand(*rules);
  ASSERT_TRUE(ls) << ls.error().message;
  EXPECT_EQ(ls->size(), 7u);
}
