// TlsStream (the client side of --upstream https) against a TlsSocket server over an in-process
// socket pair (no ports, no network): bytes both ways, half-close with close_notify, abort
// without it, SNI, ALPN, and the upstream context's certificate verification.
#include "net/tls_stream.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "net/tls_context.hpp"

#include "../temp_dir.hpp"

namespace porthole::net {
namespace {

using porthole::test_util::TempDir;
using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;

std::span<const std::uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
std::string text_of(std::span<const std::uint8_t> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// The server picks http/1.1 when the client offers it.
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned inlen, void*) {
  static constexpr unsigned char kOurs[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  unsigned char* sel = nullptr;
  if (SSL_select_next_proto(&sel, outlen, kOurs, sizeof kOurs, in, inlen) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;
  }
  *out = sel;
  return SSL_TLSEXT_ERR_OK;
}

// Sets SSL_CERT_FILE for the test's lifetime (the system CA store of make_upstream_context).
struct CertFileEnv {
  explicit CertFileEnv(const std::string& file) {
    if (const char* old = std::getenv("SSL_CERT_FILE")) saved = old;
    ::setenv("SSL_CERT_FILE", file.c_str(), 1);
  }
  ~CertFileEnv() {
    if (saved) {
      ::setenv("SSL_CERT_FILE", saved->c_str(), 1);
    } else {
      ::unsetenv("SSL_CERT_FILE");
    }
  }
  std::optional<std::string> saved;
};

class TlsStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto id = ensure_server_identity((dir.path / "data").string(), "", "");
    ASSERT_TRUE(id) << id.error().message;
    identity = *id;
    auto ctx = make_server_context(identity);
    ASSERT_TRUE(ctx) << ctx.error().message;
    server_ctx = *ctx;
    SSL_CTX_set_alpn_select_cb(server_ctx->native_handle(), &select_alpn, nullptr);
  }

  // A client TlsStream (prepared for `host`) and a server TlsSocket joined by a socket pair.
  void connect(boost::asio::ssl::context& client_ctx, const std::string& host, bool verify) {
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    tcp::socket a(io), b(io);
    a.assign(tcp::v4(), fds[0]);
    b.assign(tcp::v4(), fds[1]);
    client = std::make_unique<TlsStream>(std::move(a), client_ctx.native_handle());
    server = std::make_unique<TlsSocket>(std::move(b), server_ctx->native_handle(), TlsSocket::Side::server);
    ASSERT_NE(client->tls().ssl(), nullptr);
    auto p = prepare_upstream_ssl(client->tls().ssl(), host, verify);
    ASSERT_TRUE(p) << p.error().message;
  }

  // Runs `task` to completion on the test's io_context.
  void run(Task<void> task) {
    bool done = false;
    asio::co_spawn(io, std::move(task), [&](std::exception_ptr e) {
      done = true;
      if (e) std::rethrow_exception(e);
    });
    io.restart();
    io.run_for(10s);
    ASSERT_TRUE(done) << "the test coroutine did not finish";
  }

  // Both handshakes at once; the client's result (the server's is ignored on failure).
  Result<void> handshake() {
    Result<void> out = make_error("not run");
    run([](TlsStream& c, TlsSocket& s, Result<void>& r) -> Task<void> {
      auto both = co_await (c.handshake(2000ms) && s.handshake(2000ms));
      r = std::get<0>(both);
    }(*client, *server, out));
    return out;
  }

  std::shared_ptr<boost::asio::ssl::context> upstream_ctx(bool insecure) {
    auto ctx = make_upstream_context(insecure);
    EXPECT_TRUE(ctx) << ctx.error().message;
    return ctx ? *ctx : nullptr;
  }

  TempDir dir;
  ServerIdentity identity;
  std::shared_ptr<boost::asio::ssl::context> server_ctx;
  asio::io_context io;
  std::unique_ptr<TlsStream> client;
  std::unique_ptr<TlsSocket> server;
};

struct Transcript {
  std::string server_got, client_got, after_half_close, at_close_notify = "(not read)";
  std::size_t server_eof = 99;
  std::string errors;
};

Task<void> exchange(TlsStream& c, TlsSocket& s, Transcript& t) {
  std::uint8_t buf[256];
  auto w = co_await c.write(bytes_of("hello"));
  if (!w) t.errors += "client write: " + w.error().message + "; ";
  auto n = co_await s.read_some(buf);
  if (n) t.server_got = text_of({buf, *n});
  auto sw = s.write_now(bytes_of("world"));
  if (!sw) t.errors += "server write: " + sw.error().message + "; ";
  auto flushed = co_await s.flush();
  if (!flushed) t.errors += "server flush; ";
  auto r1 = co_await c.read();
  if (r1) t.client_got = text_of(r1->bytes());
  // Half-close: the server sees close_notify as the end, and can still answer.
  c.shutdown_write();
  auto n2 = co_await s.read_some(buf);
  if (n2) t.server_eof = *n2;
  auto sw2 = s.write_now(bytes_of("after"));
  if (!sw2) t.errors += "server write after close_notify: " + sw2.error().message + "; ";
  auto flushed2 = co_await s.flush();
  if (!flushed2) t.errors += "server flush 2; ";
  auto r2 = co_await c.read();
  if (r2) t.after_half_close = text_of(r2->bytes());
  s.close();  // close_notify: an empty chunk for the client
  auto r3 = co_await c.read();
  if (r3) {
    t.at_close_notify = r3->empty() ? "" : text_of(r3->bytes());
  } else {
    t.errors += "client read at close: " + r3.error().message + "; ";
  }
}

TEST_F(TlsStreamTest, BytesBothWaysHalfCloseAndCloseNotify) {
  auto ctx = upstream_ctx(/*insecure=*/true);
  ASSERT_TRUE(ctx);
  connect(*ctx, "origin.example", /*verify=*/false);
  auto hs = handshake();
  ASSERT_TRUE(hs) << hs.error().message;
  const char* sni = SSL_get_servername(server->ssl(), TLSEXT_NAMETYPE_host_name);
  EXPECT_STREQ(sni, "origin.example");
  const unsigned char* alpn = nullptr;
  unsigned alpn_len = 0;
  SSL_get0_alpn_selected(client->tls().ssl(), &alpn, &alpn_len);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(alpn), alpn_len), "http/1.1");

  Transcript t;
  run(exchange(*client, *server, t));
  EXPECT_EQ(t.errors, "");
  EXPECT_EQ(t.server_got, "hello");
  EXPECT_EQ(t.client_got, "world");
  EXPECT_EQ(t.server_eof, 0u) << "close_notify is a clean end for the server";
  EXPECT_EQ(t.after_half_close, "after");
  EXPECT_EQ(t.at_close_notify, "");
}

TEST_F(TlsStreamTest, NoServerNameForIpLiterals) {
  auto ctx = upstream_ctx(true);
  ASSERT_TRUE(ctx);
  connect(*ctx, "127.0.0.1", false);
  ASSERT_TRUE(handshake());
  EXPECT_EQ(SSL_get_servername(server->ssl(), TLSEXT_NAMETYPE_host_name), nullptr);
}

TEST_F(TlsStreamTest, AbortSendsNoCloseNotify) {
  auto ctx = upstream_ctx(true);
  ASSERT_TRUE(ctx);
  connect(*ctx, "origin.example", false);
  ASSERT_TRUE(handshake());
  std::string server_saw, client_saw;
  run([](TlsStream& c, TlsSocket& s, std::string& srv, std::string& cli) -> Task<void> {
    c.abort("test");
    std::uint8_t buf[16];
    auto n = co_await s.read_some(buf);
    srv = n ? fmt::format("{} bytes", *n) : "error";
    auto r = co_await c.read();
    cli = r ? "chunk" : "error";
  }(*client, *server, server_saw, client_saw));
  EXPECT_EQ(server_saw, "error") << "an abort must not look like a clean close";
  EXPECT_EQ(client_saw, "error");
}

TEST_F(TlsStreamTest, ServiceClosingWithoutCloseNotifyEndsTheData) {
  auto ctx = upstream_ctx(true);
  ASSERT_TRUE(ctx);
  connect(*ctx, "origin.example", false);
  ASSERT_TRUE(handshake());
  std::string got = "(not read)", end = "(not read)";
  run([](TlsStream& c, TlsSocket& s, std::string& data, std::string& eof) -> Task<void> {
    auto w = s.write_now(bytes_of("last bytes"));
    if (!w) data = w.error().message;
    SSL_set_shutdown(s.ssl(), SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);  // close() sends no close_notify
    s.close();
    auto r1 = co_await c.read();
    if (r1) data = text_of(r1->bytes());
    auto r2 = co_await c.read();
    eof = r2 ? (r2->empty() ? "end" : "more data") : r2.error().message;
  }(*client, *server, got, end));
  EXPECT_EQ(got, "last bytes");
  EXPECT_EQ(end, "end");
}

TEST_F(TlsStreamTest, SelfSignedIsRefusedByDefault) {
  auto ctx = upstream_ctx(/*insecure=*/false);
  ASSERT_TRUE(ctx);
  connect(*ctx, "localhost", /*verify=*/true);
  auto hs = handshake();
  ASSERT_FALSE(hs);
  EXPECT_EQ(upstream_verify_failure(client->tls().ssl()),
            "certificate verify failed: self-signed certificate");
}

TEST_F(TlsStreamTest, TrustedCertificateMustNameTheHost) {
  CertFileEnv env(identity.cert_file);  // the "system" store trusts the server's certificate
  auto ctx = upstream_ctx(false);
  ASSERT_TRUE(ctx);
  for (const std::string host : {"localhost", "127.0.0.1", "::1"}) {
    connect(*ctx, host, true);
    auto hs = handshake();
    EXPECT_TRUE(hs) << host << ": " << hs.error().message;
    EXPECT_EQ(upstream_verify_failure(client->tls().ssl()), "") << host;
  }
  for (const std::string host : {"other.example", "10.0.0.1"}) {
    connect(*ctx, host, true);
    EXPECT_FALSE(handshake()) << host;
    const auto why = upstream_verify_failure(client->tls().ssl());
    EXPECT_TRUE(why == "certificate verify failed: hostname mismatch" ||
                why == "certificate verify failed: IP address mismatch")
        << host << ": " << why;
  }
}

}  // namespace
}  // namespace porthole::net
