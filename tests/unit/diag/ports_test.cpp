#include "diag/ports.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "diag/procfs.hpp"
#include "diag/services.hpp"

namespace porthole::diag {
namespace {

SockEntry sock(const char* addr, int family = 4, std::uint32_t ifindex = 0) {
  SockEntry e;
  e.local_addr = addr;
  e.family = family;
  e.ifindex = ifindex;
  e.local_port = 8080;
  e.state = static_cast<std::uint8_t>(SockState::listen);
  return e;
}

TEST(Exposure, Classifies) {
  EXPECT_EQ(classify_exposure(sock("127.0.0.1")).kind, Exposure::loopback);
  EXPECT_EQ(classify_exposure(sock("127.1.2.3")).kind, Exposure::loopback);
  EXPECT_EQ(classify_exposure(sock("::1", 6)).kind, Exposure::loopback);
  EXPECT_EQ(classify_exposure(sock("::ffff:127.0.0.1", 6)).kind, Exposure::loopback);
  EXPECT_EQ(classify_exposure(sock("0.0.0.0")).text, "all interfaces (IPv4)");
  auto dual = sock("::", 6);
  dual.v6only = false;
  EXPECT_EQ(classify_exposure(dual).text, "all interfaces (IPv4+IPv6)");
  dual.v6only = true;
  EXPECT_EQ(classify_exposure(dual).text, "all interfaces (IPv6 only)");
  EXPECT_EQ(classify_exposure(dual).kind, Exposure::all);
  auto one = classify_exposure(sock("192.168.1.5"), "eth0");
  EXPECT_EQ(one.kind, Exposure::address);
  EXPECT_EQ(one.text, "192.168.1.5 only (eth0)");
  EXPECT_EQ(classify_exposure(sock("10.0.0.2")).text, "10.0.0.2 only");
  auto dev = classify_exposure(sock("0.0.0.0", 4, 3), "wg0");
  EXPECT_EQ(dev.kind, Exposure::interface);
  EXPECT_EQ(dev.text, "interface wg0 only");
  EXPECT_EQ(classify_exposure(sock("0.0.0.0", 4, 3)).text, "interface if#3 only");
  EXPECT_STREQ(exposure_name(Exposure::loopback), "loopback");
}

TEST(Services, BuiltinThenEtcServices) {
  ServiceNames n;
  EXPECT_EQ(n.add_etc_services("# comment\nssh 22/tcp\nhttp-alt 8080/tcp webcache # x\n"
                               "bogus\nbad 99999/tcp\nweird 12/sctp\nfoo 4242/udp\nfoo2 x/tcp\n"),
            3U);
  EXPECT_EQ(n.lookup(22, Proto::tcp), "SSH");
  EXPECT_EQ(n.lookup(25565, Proto::tcp), "Minecraft");
  EXPECT_EQ(n.lookup(25565, Proto::udp), "Minecraft");
  EXPECT_EQ(n.lookup(32400, Proto::tcp), "Plex");
  EXPECT_EQ(n.lookup(11434, Proto::tcp), "Ollama");
  EXPECT_EQ(n.lookup(51820, Proto::udp), "WireGuard");
  EXPECT_EQ(n.lookup(51820, Proto::tcp), "");
  EXPECT_EQ(n.lookup(4242, Proto::udp), "foo");
  EXPECT_EQ(n.lookup(4242, Proto::tcp), "");
  EXPECT_EQ(n.lookup(12, Proto::tcp), "");
  EXPECT_EQ(builtin_service(8080, Proto::tcp), "dev server (http-alt)");
}

TEST(Procfs, ParsesSocketLinks) {
  EXPECT_EQ(parse_socket_link("socket:[12345]"), 12345U);
  EXPECT_EQ(parse_socket_link("socket:[]"), 0U);
  EXPECT_EQ(parse_socket_link("socket:[12a]"), 0U);
  EXPECT_EQ(parse_socket_link("pipe:[12]"), 0U);
  EXPECT_EQ(parse_socket_link("/dev/null"), 0U);
  EXPECT_EQ(parse_socket_link("socket:[99999999999]"), 0U);
}

TEST(Procfs, ScansAFakeProcTree) {
  namespace fs = std::filesystem;
  auto root = fs::temp_directory_path() / ("porthole-proc-" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root / "42" / "fd");
  fs::create_directories(root / "7" / "fd");
  fs::create_directories(root / "self");
  std::ofstream(root / "42" / "comm") << "sshd\n";
  std::ofstream(root / "7" / "comm") << "nginx\n";
  fs::create_symlink("socket:[100]", root / "42" / "fd" / "3");
  fs::create_symlink("/dev/null", root / "42" / "fd" / "0");
  fs::create_symlink("socket:[100]", root / "7" / "fd" / "5");
  fs::create_symlink("socket:[200]", root / "7" / "fd" / "6");
  auto owners = socket_owners(root.string());
  fs::remove_all(root);
  ASSERT_EQ(owners.size(), 2U);
  ASSERT_EQ(owners[100].size(), 2U);
  EXPECT_EQ(owners[100][0], (Owner{7, "nginx"}));
  EXPECT_EQ(owners[100][1], (Owner{42, "sshd"}));
  EXPECT_EQ(owners[200][0].name, "nginx");
  EXPECT_TRUE(socket_owners("/nonexistent-porthole").empty());
}

TEST(Ports, SelectSortRenderJson) {
  std::vector<PortEntry> in(3);
  in[0].sock = sock("0.0.0.0");
  in[0].sock.local_port = 9000;
  in[1].sock = sock("127.0.0.1");
  in[1].sock.local_port = 22;
  in[1].owners = {{42, "sshd"}};
  in[1].service = "SSH";
  in[1].exposure = classify_exposure(in[1].sock);
  in[2].sock = sock("10.0.0.1");
  in[2].sock.state = static_cast<std::uint8_t>(SockState::established);
  auto listening = select_and_sort(in, {.all = false});
  ASSERT_EQ(listening.size(), 2U);
  EXPECT_EQ(listening[0].sock.local_port, 22);
  EXPECT_EQ(select_and_sort(in, {.all = true}).size(), 3U);
  auto text = render_ports_text(listening, false);
  EXPECT_NE(text.find("127.0.0.1:22"), std::string::npos);
  EXPECT_NE(text.find("42/sshd"), std::string::npos);
  EXPECT_NE(text.find("loopback only"), std::string::npos);
  auto all_text = render_ports_text(select_and_sort(in, {.all = true}), true);
  EXPECT_NE(all_text.find("ESTAB"), std::string::npos);
  auto j = ports_to_json(listening);
  ASSERT_EQ(j["sockets"].size(), 2U);
  EXPECT_EQ(j["sockets"][0]["pid"], 42);
  EXPECT_EQ(j["sockets"][0]["exposure"], "loopback");
  EXPECT_TRUE(j["sockets"][1]["pid"].is_null());
  EXPECT_EQ(render_ports_text({}, false).find("(nothing)") != std::string::npos, true);
}

}  // namespace
}  // namespace porthole::diag
