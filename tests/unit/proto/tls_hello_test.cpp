#include "proto/tls_hello.hpp"

#include <gtest/gtest.h>

using namespace porthole::proto::tls;

namespace {

using Bytes = std::vector<std::uint8_t>;

void put16(Bytes& b, std::size_t v) {
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v));
}
void append(Bytes& b, const Bytes& x) { b.insert(b.end(), x.begin(), x.end()); }
Bytes str(std::string_view s) { return Bytes(s.begin(), s.end()); }

Bytes ext(std::uint16_t type, const Bytes& body) {
  Bytes e;
  put16(e, type);
  put16(e, body.size());
  append(e, body);
  return e;
}
Bytes sni_ext(std::string_view name) {
  Bytes entry{0};
  put16(entry, name.size());
  append(entry, str(name));
  Bytes list;
  put16(list, entry.size());
  append(list, entry);
  return ext(0, list);
}
Bytes alpn_ext(std::initializer_list<std::string_view> protos) {
  Bytes l;
  for (auto p : protos) {
    l.push_back(static_cast<std::uint8_t>(p.size()));
    append(l, str(p));
  }
  Bytes body;
  put16(body, l.size());
  append(body, l);
  return ext(16, body);
}

// A ClientHello handshake message (header included) with these extensions.
Bytes hello_message(const Bytes& extensions, bool with_ext_block = true) {
  Bytes body{3, 3};
  body.insert(body.end(), 32, 0x11);  // random
  body.push_back(32);
  body.insert(body.end(), 32, 0x22);  // session id
  put16(body, 4);
  append(body, {0x13, 0x01, 0xc0, 0x2b});
  body.push_back(1);
  body.push_back(0);
  if (with_ext_block) {
    put16(body, extensions.size());
    append(body, extensions);
  }
  Bytes msg{1, static_cast<std::uint8_t>(body.size() >> 16), static_cast<std::uint8_t>(body.size() >> 8),
            static_cast<std::uint8_t>(body.size())};
  append(msg, body);
  return msg;
}

// The message in records of at most `max` bytes each.
Bytes records(const Bytes& msg, std::size_t max = 16384) {
  Bytes out;
  for (std::size_t i = 0; i < msg.size(); i += max) {
    const auto n = std::min(max, msg.size() - i);
    append(out, {22, 3, 1});
    put16(out, n);
    out.insert(out.end(), msg.begin() + static_cast<std::ptrdiff_t>(i),
               msg.begin() + static_cast<std::ptrdiff_t>(i + n));
  }
  return out;
}

Bytes typical(std::string_view host = "App.Example.test.") {
  Bytes e;
  append(e, ext(0x0a0a, {}));  // GREASE
  append(e, sni_ext(host));
  append(e, alpn_ext({"h2", "http/1.1"}));
  append(e, ext(43, {4, 0x1a, 0x1a, 0x03, 0x04}));  // supported_versions: GREASE, TLS 1.3
  return records(hello_message(e));
}

ClientHelloReader::Status feed_all(ClientHelloReader& r, const Bytes& b) { return r.feed(b); }

}  // namespace

TEST(TlsHello, ParsesSniAlpnAndVersions) {
  ClientHelloReader r;
  ASSERT_EQ(feed_all(r, typical()), ClientHelloReader::Status::done) << r.message();
  EXPECT_EQ(r.hello().sni, "app.example.test");
  EXPECT_TRUE(r.hello().has_sni);
  EXPECT_EQ(r.hello().alpn, (std::vector<std::string>{"h2", "http/1.1"}));
  EXPECT_EQ(r.hello().versions, (std::vector<std::uint16_t>{0x0304}));
  EXPECT_EQ(r.hello().legacy_version, 0x0303);
  EXPECT_EQ(r.hello().record_bytes, typical().size());
}

TEST(TlsHello, EverySplitPointGivesTheSameHello) {
  const auto b = typical();
  for (std::size_t cut = 0; cut <= b.size(); ++cut) {
    ClientHelloReader r;
    auto s1 = r.feed(std::span(b).first(cut));
    if (cut < b.size()) {
      ASSERT_EQ(s1, ClientHelloReader::Status::need_more) << cut;
    }
    ASSERT_EQ(r.feed(std::span(b).subspan(cut)), ClientHelloReader::Status::done) << cut;
    EXPECT_EQ(r.hello().sni, "app.example.test");
  }
}

TEST(TlsHello, ByteAtATime) {
  const auto b = typical();
  ClientHelloReader r;
  for (std::size_t i = 0; i < b.size(); ++i) {
    auto s = r.feed(std::span(b).subspan(i, 1));
    ASSERT_EQ(s, i + 1 == b.size() ? ClientHelloReader::Status::done : ClientHelloReader::Status::need_more) << i;
  }
}

TEST(TlsHello, HelloSplitOverSeveralRecords) {
  Bytes e;
  append(e, sni_ext("split.test"));
  append(e, ext(0x1234, Bytes(3000, 7)));  // padding-like extension
  const auto b = records(hello_message(e), 100);
  ClientHelloReader r;
  ASSERT_EQ(r.feed(b), ClientHelloReader::Status::done) << r.message();
  EXPECT_EQ(r.hello().sni, "split.test");
  EXPECT_EQ(r.hello().record_bytes, b.size());
}

TEST(TlsHello, BytesAfterTheHelloAreIgnored) {
  auto b = typical();
  const auto n = b.size();
  append(b, {20, 3, 3, 0, 1, 1});  // a change_cipher_spec record that follows
  ClientHelloReader r;
  ASSERT_EQ(r.feed(b), ClientHelloReader::Status::done);
  EXPECT_EQ(r.hello().record_bytes, n);
}

TEST(TlsHello, MissingSniAndNoExtensions) {
  ClientHelloReader a;
  ASSERT_EQ(a.feed(records(hello_message(alpn_ext({"http/1.1"})))), ClientHelloReader::Status::done);
  EXPECT_FALSE(a.hello().has_sni);
  EXPECT_EQ(a.hello().sni, "");
  ClientHelloReader b;
  ASSERT_EQ(b.feed(records(hello_message({}, false))), ClientHelloReader::Status::done) << b.message();
  EXPECT_FALSE(b.hello().has_sni);
  EXPECT_TRUE(b.hello().alpn.empty());
}

TEST(TlsHello, EchAndGreaseExtensions) {
  Bytes e;
  append(e, ext(0xfafa, {0}));
  append(e, sni_ext("public.example"));
  append(e, ext(0xfe0d, Bytes(200, 9)));
  append(e, alpn_ext({"acme-tls/1"}));
  ClientHelloReader r;
  ASSERT_EQ(r.feed(records(hello_message(e))), ClientHelloReader::Status::done) << r.message();
  EXPECT_TRUE(r.hello().has_ech);
  EXPECT_EQ(r.hello().sni, "public.example");
  EXPECT_EQ(r.hello().alpn, std::vector<std::string>{"acme-tls/1"});
}

TEST(TlsHello, PlainHttpIsNotTls) {
  ClientHelloReader r;
  EXPECT_EQ(r.feed(str("GET / HTTP/1.1\r\n")), ClientHelloReader::Status::error);
  EXPECT_EQ(r.error(), HelloError::not_tls);
  EXPECT_EQ(alert_for(r.error()), 0);
}

TEST(TlsHello, Sslv2HelloIsRefused) {
  ClientHelloReader r;
  EXPECT_EQ(r.feed(Bytes{0x80, 0x2e, 0x01, 0x00, 0x02}), ClientHelloReader::Status::error);
  EXPECT_EQ(r.error(), HelloError::sslv2);
  EXPECT_EQ(hello_error_name(r.error()), "sslv2");
}

TEST(TlsHello, OversizedRecord) {
  ClientHelloReader r;
  EXPECT_EQ(r.feed(Bytes{22, 3, 1, 0x40, 0x01}), ClientHelloReader::Status::error);
  EXPECT_EQ(r.error(), HelloError::record_overflow);
  EXPECT_EQ(alert_for(r.error()), kAlertRecordOverflow);
}

TEST(TlsHello, OversizedHello) {
  ClientHelloReader r(HelloLimits{.max_hello = 1000});
  Bytes e = ext(0x1234, Bytes(2000, 1));
  EXPECT_EQ(r.feed(records(hello_message(e))), ClientHelloReader::Status::error);
  EXPECT_EQ(r.error(), HelloError::too_large);
}

TEST(TlsHello, BadRecordVersionAndEmptyRecord) {
  ClientHelloReader a;
  EXPECT_EQ(a.feed(Bytes{22, 2, 0, 0, 5}), ClientHelloReader::Status::error);
  EXPECT_EQ(a.error(), HelloError::bad_version);
  ClientHelloReader b;
  EXPECT_EQ(b.feed(Bytes{22, 3, 1, 0, 0}), ClientHelloReader::Status::error);
  EXPECT_EQ(b.error(), HelloError::malformed);
}

TEST(TlsHello, OtherRecordInsideTheHello) {
  auto msg = hello_message(sni_ext("a.test"));
  auto b = records(Bytes(msg.begin(), msg.begin() + 10));
  append(b, {21, 3, 3, 0, 2, 1, 0});  // an alert record before the rest
  ClientHelloReader r;
  EXPECT_EQ(r.feed(b), ClientHelloReader::Status::error);
  EXPECT_EQ(r.error(), HelloError::not_handshake);
}

TEST(TlsHello, NotAClientHello) {
  ClientHelloReader r;
  EXPECT_EQ(r.feed(Bytes{22, 3, 3, 0, 4, 2, 0, 0, 0}), ClientHelloReader::Status::error);  // ServerHello
  EXPECT_EQ(r.error(), HelloError::not_client_hello);
}

TEST(TlsHello, MalformedFields) {
  // Duplicate extension.
  Bytes dup;
  append(dup, sni_ext("a.test"));
  append(dup, sni_ext("b.test"));
  ClientHelloReader a;
  EXPECT_EQ(a.feed(records(hello_message(dup))), ClientHelloReader::Status::error);
  EXPECT_EQ(a.error(), HelloError::malformed);
  EXPECT_NE(a.message().find("duplicate"), std::string::npos);
  // A NUL in the server name.
  ClientHelloReader b;
  EXPECT_EQ(b.feed(records(hello_message(sni_ext(std::string_view("a\0b.test", 8))))), ClientHelloReader::Status::error);
  EXPECT_EQ(b.error(), HelloError::malformed);
  // An extension that overruns its block.
  auto m = hello_message(sni_ext("c.test"));
  m[m.size() - 13] = 0xff;  // inflate the server_name extension's length
  ClientHelloReader c;
  EXPECT_EQ(c.feed(records(m)), ClientHelloReader::Status::error);
  EXPECT_EQ(c.error(), HelloError::malformed);
  // An empty ALPN name.
  ClientHelloReader d;
  EXPECT_EQ(d.feed(records(hello_message(alpn_ext({""})))), ClientHelloReader::Status::error);
  // A message shorter than its header says, then bytes after it in the same record.
  auto short_msg = hello_message({});
  short_msg[3] = static_cast<std::uint8_t>(short_msg[3] - 5);
  ClientHelloReader e;
  EXPECT_EQ(e.feed(records(short_msg)), ClientHelloReader::Status::error);
  EXPECT_EQ(e.error(), HelloError::malformed);
  // Empty labels anywhere: two trailing dots (one is the FQDN form and is dropped), a leading
  // dot, a double dot (found by fuzz_tls_hello: "name.." once passed as "name.").
  for (std::string_view bad : {"name..", ".name", "a..b", "."}) {
    ClientHelloReader f;
    EXPECT_EQ(f.feed(records(hello_message(sni_ext(bad)))), ClientHelloReader::Status::error) << bad;
    EXPECT_EQ(f.error(), HelloError::malformed) << bad;
  }
  ClientHelloReader g;
  EXPECT_EQ(g.feed(records(hello_message(sni_ext("Name.Test.")))), ClientHelloReader::Status::done);
  EXPECT_EQ(g.hello().sni, "name.test");
}

TEST(TlsHello, RenegotiationInfoIsSeen) {
  ClientHelloReader r;
  ASSERT_EQ(r.feed(records(hello_message(ext(0xff01, {0})))), ClientHelloReader::Status::done);
  EXPECT_TRUE(r.hello().has_renegotiation_info);
}

TEST(TlsHello, FatalAlertBytes) {
  EXPECT_EQ(fatal_alert(kAlertUnrecognizedName), (Bytes{21, 3, 3, 0, 2, 2, 112}));
}
