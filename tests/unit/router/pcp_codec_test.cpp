// PCP codec (RFC 6887) byte vectors.
#include <gtest/gtest.h>

#include "router/pcp_codec.hpp"

using namespace porthole::router::pcp;

namespace {

Nonce test_nonce() {
  Nonce n{};
  for (std::size_t i = 0; i < n.size(); ++i) n[i] = static_cast<std::uint8_t>(i + 1);
  return n;
}

std::vector<std::uint8_t> reply_header(std::uint8_t op, std::uint8_t result, std::uint32_t life,
                                       std::uint32_t epoch) {
  std::vector<std::uint8_t> b = {2, static_cast<std::uint8_t>(0x80 | op), 0, result};
  for (auto v : {life, epoch}) {
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<std::uint8_t>(v >> s));
  }
  b.resize(24, 0);
  return b;
}

std::vector<std::uint8_t> map_reply(std::uint8_t result, const Nonce& n, std::uint16_t in, std::uint16_t ext) {
  auto b = reply_header(1, result, result ? 0 : 3600, 1234);
  b.insert(b.end(), n.begin(), n.end());
  b.insert(b.end(), {6, 0, 0, 0});
  b.insert(b.end(), {static_cast<std::uint8_t>(in >> 8), static_cast<std::uint8_t>(in),
                     static_cast<std::uint8_t>(ext >> 8), static_cast<std::uint8_t>(ext)});
  b.insert(b.end(), {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 11, 77, 0, 2});
  return b;
}

MapRequest request() {
  MapRequest r;
  r.client_ip = ipv4_mapped("10.77.0.2").value();
  r.lifetime = 3600;
  r.nonce = test_nonce();
  r.protocol = kProtoTcp;
  r.internal_port = 8080;
  r.suggested_external_port = 8080;
  return r;
}

}  // namespace

TEST(PcpCodec, EncodesMapRequest) {
  auto b = encode_map(request());
  ASSERT_EQ(b.size(), 60u);
  EXPECT_EQ(b[0], 2);     // version
  EXPECT_EQ(b[1], 1);     // R=0, opcode MAP
  EXPECT_EQ(b[4], 0);     // lifetime 3600 = 0x00000e10
  EXPECT_EQ(b[6], 0x0e);
  EXPECT_EQ(b[7], 0x10);
  std::vector<std::uint8_t> client(b.begin() + 8, b.begin() + 24);
  EXPECT_EQ(client, (std::vector<std::uint8_t>{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 77, 0, 2}));
  EXPECT_EQ(b[24], 1);    // nonce
  EXPECT_EQ(b[35], 12);
  EXPECT_EQ(b[36], 6);    // protocol TCP
  EXPECT_EQ(b[40], 0x1f); // internal port 8080 = 0x1f90
  EXPECT_EQ(b[41], 0x90);
  EXPECT_EQ(b[42], 0x1f);
  EXPECT_EQ(b[43], 0x90);
}

TEST(PcpCodec, EncodesAnnounce) {
  auto b = encode_announce(ipv4_mapped("10.0.0.5").value());
  ASSERT_EQ(b.size(), 24u);
  EXPECT_EQ(b[0], 2);
  EXPECT_EQ(b[1], 0);
  EXPECT_EQ(b[23], 5);
}

TEST(PcpCodec, DecodesMapSuccess) {
  auto r = decode_response(map_reply(0, test_nonce(), 8080, 8080));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->opcode, Opcode::map);
  EXPECT_EQ(r->lifetime, 3600u);
  EXPECT_EQ(r->epoch, 1234u);
  ASSERT_TRUE(r->map);
  EXPECT_EQ(format_ip(r->map->external_ip), "11.77.0.2");
  auto m = match_map_reply(*r, request());
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->external_port, 8080);
}

TEST(PcpCodec, RejectsWrongNonce) {
  Nonce other = test_nonce();
  other[0] ^= 0xff;
  auto r = decode_response(map_reply(0, other, 8080, 8080));
  ASSERT_TRUE(r);
  auto m = match_map_reply(*r, request());
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().message.find("nonce"), std::string::npos);
}

TEST(PcpCodec, RejectsOtherInternalPort) {
  auto r = decode_response(map_reply(0, test_nonce(), 9999, 8080));
  ASSERT_TRUE(r);
  EXPECT_FALSE(match_map_reply(*r, request()));
}

TEST(PcpCodec, ResultCodesBecomeClearMessages) {
  auto r = decode_response(map_reply(2, test_nonce(), 8080, 0));
  ASSERT_TRUE(r);
  auto m = match_map_reply(*r, request());
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().message.find("NOT_AUTHORIZED"), std::string::npos);
  EXPECT_NE(result_text(7).find("NETWORK_FAILURE"), std::string::npos);
  EXPECT_NE(result_text(12).find("ADDRESS_MISMATCH"), std::string::npos);
  EXPECT_NE(result_text(200).find("unknown"), std::string::npos);
  EXPECT_TRUE(result_is_transient(8));
  EXPECT_FALSE(result_is_transient(2));
}

TEST(PcpCodec, ErrorReplyWithoutOpcodeDataIsAccepted) {
  auto r = decode_response(reply_header(1, 8, 0, 5));
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->map);
  auto m = match_map_reply(*r, request());
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().message.find("NO_RESOURCES"), std::string::npos);
}

TEST(PcpCodec, RejectsTruncatedAndMalformed) {
  auto ok = map_reply(0, test_nonce(), 8080, 8080);
  for (std::size_t n : {0u, 1u, 2u, 20u, 23u, 24u, 44u, 56u}) {
    std::vector<std::uint8_t> cut(ok.begin(), ok.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_FALSE(decode_response(cut)) << "length " << n;
  }
  auto odd = ok;
  odd.push_back(0);
  EXPECT_FALSE(decode_response(odd));  // not a multiple of 4
  auto request_bit = ok;
  request_bit[1] = 1;
  EXPECT_FALSE(decode_response(request_bit));
  auto v3 = ok;
  v3[0] = 3;
  EXPECT_FALSE(decode_response(v3));
  std::vector<std::uint8_t> huge(1104, 0);
  huge[0] = 2;
  huge[1] = 0x80;
  EXPECT_FALSE(decode_response(huge));
  auto opcode = ok;
  opcode[1] = 0x80 | 0x33;
  EXPECT_FALSE(decode_response(opcode));
}

TEST(PcpCodec, NatPmpReplyIsNamed) {
  std::vector<std::uint8_t> pmp = {0, 128, 0, 0, 0, 0, 0, 5, 11, 77, 0, 2};
  auto r = decode_response(pmp);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("NAT-PMP"), std::string::npos);
}

TEST(PcpCodec, ValidatesOptions) {
  auto b = map_reply(0, test_nonce(), 8080, 8080);
  auto good = b;
  good.insert(good.end(), {1, 0, 0, 3, 9, 9, 9, 0});  // 3 bytes padded to 4
  EXPECT_TRUE(decode_response(good));
  auto bad = b;
  bad.insert(bad.end(), {1, 0, 0, 40, 0, 0, 0, 0});  // runs past the end
  EXPECT_FALSE(decode_response(bad));
}

TEST(PcpCodec, Ipv4Mapping) {
  EXPECT_EQ(format_ip(ipv4_mapped("192.168.1.20").value()), "192.168.1.20");
  for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "a.b.c.d", "1..2.3", "1.2.3.4 "}) {
    EXPECT_FALSE(ipv4_mapped(bad)) << bad;
  }
  EXPECT_EQ(format_ip(Ip16{}), "");
}
