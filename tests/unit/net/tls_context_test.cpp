// TLS contexts, the relay's self-signed identity, trust decisions and channel bindings, all in
// memory: the handshakes run over an OpenSSL BIO pair, no sockets.
#include "net/tls_context.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "proto/auth.hpp"

#include "../temp_dir.hpp"

namespace porthole::net {
namespace {

namespace fs = std::filesystem;
using porthole::test_util::file_mode;
using porthole::test_util::slurp;
using porthole::test_util::TempDir;

struct SslFree {
  void operator()(SSL* s) const { SSL_free(s); }
};
using SslPtr = std::unique_ptr<SSL, SslFree>;

// A client and a server SSL joined by a BIO pair.
struct Conn {
  SslPtr client, server;
};

Conn connect_pair(boost::asio::ssl::context& server_ctx, boost::asio::ssl::context& client_ctx,
                  const RelayTrust& trust) {
  Conn c{SslPtr(SSL_new(client_ctx.native_handle())), SslPtr(SSL_new(server_ctx.native_handle()))};
  BIO* cb = nullptr;
  BIO* sb = nullptr;
  BIO_new_bio_pair(&cb, 0, &sb, 0);
  SSL_set_bio(c.client.get(), cb, cb);
  SSL_set_bio(c.server.get(), sb, sb);
  SSL_set_connect_state(c.client.get());
  SSL_set_accept_state(c.server.get());
  EXPECT_TRUE(prepare_client_ssl(c.client.get(), trust));
  return c;
}

// Drives both ends until both finish (true) or one fails (false).
bool handshake(Conn& c) {
  bool cdone = false, sdone = false;
  for (int i = 0; i < 50 && !(cdone && sdone); ++i) {
    for (auto [ssl, done] : {std::pair{c.client.get(), &cdone}, std::pair{c.server.get(), &sdone}}) {
      if (*done) continue;
      int rc = SSL_do_handshake(ssl);
      if (rc == 1) {
        *done = true;
        continue;
      }
      int err = SSL_get_error(ssl, rc);
      if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) return false;
    }
  }
  return cdone && sdone;
}

class Tls : public ::testing::Test {
 protected:
  void SetUp() override {
    auto id = ensure_server_identity((dir.path / "data").string(), "", "");
    ASSERT_TRUE(id) << id.error().message;
    identity = *id;
    auto ctx = make_server_context(identity);
    ASSERT_TRUE(ctx) << ctx.error().message;
    server_ctx = *ctx;
    trust.relay_address = "relay.example:7000";
    trust.known_relays_file = (dir.path / "cfg" / "known_relays").string();
  }

  // Handshake + verify_relay_certificate with `t`; returns the verification result.
  Result<void> connect_and_verify(const RelayTrust& t, boost::asio::ssl::context* server = nullptr) {
    auto cctx = make_client_context(t);
    if (!cctx) return cctx.error();
    auto c = connect_pair(server ? *server : *server_ctx, **cctx, t);
    if (!handshake(c)) return make_error("handshake failed");
    return verify_relay_certificate(c.client.get(), t);
  }

  TempDir dir;
  ServerIdentity identity;
  std::shared_ptr<boost::asio::ssl::context> server_ctx;
  RelayTrust trust;
};

TEST_F(Tls, SelfSignedIdentityIsCreatedOnceWithPrivateModes) {
  EXPECT_TRUE(identity.created);
  EXPECT_EQ(identity.fingerprint.size(), 64u);
  EXPECT_EQ(file_mode(dir.path / "data"), 0700u);
  EXPECT_EQ(file_mode(identity.key_file), 0600u);
  EXPECT_EQ(fs::path(identity.cert_file), dir.path / "data" / "relay-cert.pem");
  auto again = ensure_server_identity((dir.path / "data").string(), "", "");
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->fingerprint, identity.fingerprint);
  EXPECT_TRUE(slurp(identity.cert_file).starts_with("-----BEGIN CERTIFICATE-----"));
}

TEST_F(Tls, FingerprintIsSha256OfDer) {
  FILE* f = std::fopen(identity.cert_file.c_str(), "r");
  ASSERT_NE(f, nullptr);
  X509* x = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  ASSERT_NE(x, nullptr);
  unsigned char* der = nullptr;
  int len = i2d_X509(x, &der);
  unsigned char md[32];
  unsigned mdlen = 0;
  EVP_Digest(der, static_cast<std::size_t>(len), md, &mdlen, EVP_sha256(), nullptr);
  std::string hex;
  for (unsigned i = 0; i < mdlen; ++i) hex += fmt::format("{:02x}", md[i]);
  EXPECT_EQ(certificate_fingerprint(x), hex);
  EXPECT_EQ(identity.fingerprint, hex);
  // SAN carries localhost and the loopback addresses.
  EXPECT_EQ(X509_check_host(x, "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(x, "::1", 0), 1);
  OPENSSL_free(der);
  X509_free(x);
  EXPECT_EQ(certificate_fingerprint(nullptr), "");
}

TEST_F(Tls, HalfPresentIdentityIsAnError) {
  fs::remove(identity.cert_file);
  auto r = ensure_server_identity((dir.path / "data").string(), "", "");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("relay-key.pem exists"), std::string::npos) << r.error().message;
}

TEST_F(Tls, ExplicitCertAndKeyMustMatch) {
  auto other = ensure_server_identity((dir.path / "other").string(), "", "");
  ASSERT_TRUE(other);
  auto ok = ensure_server_identity("unused", identity.cert_file, identity.key_file);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->fingerprint, identity.fingerprint);
  EXPECT_FALSE(ok->created);
  EXPECT_FALSE(ensure_server_identity("unused", identity.cert_file, other->key_file));
  EXPECT_FALSE(ensure_server_identity("unused", identity.cert_file, ""));
  EXPECT_FALSE(ensure_server_identity("unused", (dir.path / "missing.pem").string(), identity.key_file));
}

TEST_F(Tls, ContextsAreTls13Only) {
  EXPECT_EQ(SSL_CTX_get_min_proto_version(server_ctx->native_handle()), TLS1_3_VERSION);
  auto cctx = make_client_context(trust);
  ASSERT_TRUE(cctx);
  EXPECT_EQ(SSL_CTX_get_min_proto_version((*cctx)->native_handle()), TLS1_3_VERSION);
  // A TLS 1.2-only client cannot connect.
  boost::asio::ssl::context old(boost::asio::ssl::context::tls_client);
  SSL_CTX_set_max_proto_version(old.native_handle(), TLS1_2_VERSION);
  auto c = connect_pair(*server_ctx, old, trust);
  EXPECT_FALSE(handshake(c));
}

TEST_F(Tls, ChannelBindingsMatchAcrossEndsAndDifferAcrossConnections) {
  trust.fingerprint = identity.fingerprint;
  auto cctx = make_client_context(trust);
  ASSERT_TRUE(cctx);
  auto c1 = connect_pair(*server_ctx, **cctx, trust);
  auto c2 = connect_pair(*server_ctx, **cctx, trust);
  EXPECT_FALSE(channel_binding(c1.client.get()));  // before the handshake
  ASSERT_TRUE(handshake(c1));
  ASSERT_TRUE(handshake(c2));
  auto a1 = channel_binding(c1.client.get()), b1 = channel_binding(c1.server.get());
  auto a2 = channel_binding(c2.client.get()), b2 = channel_binding(c2.server.get());
  ASSERT_TRUE(a1 && b1 && a2 && b2);
  EXPECT_EQ(a1->size(), kChannelBindingLength);
  EXPECT_EQ(*a1, *b1);
  EXPECT_EQ(*a2, *b2);
  EXPECT_NE(*a1, *a2);
  // The agent's proof on connection 1 verifies there and nowhere else.
  auto key = proto::token_key("ph_token");
  auto proof = proto::auth_proof(key, *a1);
  EXPECT_TRUE(proto::verify_proof(key, *b1, proof));
  EXPECT_FALSE(proto::verify_proof(key, *b2, proof));
}

TEST_F(Tls, PinnedFingerprintInAnySpelling) {
  std::string upper_colons = "SHA256:";
  for (std::size_t i = 0; i < identity.fingerprint.size(); i += 2) {
    if (i) upper_colons += ':';
    upper_colons += static_cast<char>(std::toupper(identity.fingerprint[i]));
    upper_colons += static_cast<char>(std::toupper(identity.fingerprint[i + 1]));
  }
  for (const auto& fp : {identity.fingerprint, upper_colons}) {
    trust.fingerprint = fp;
    auto r = connect_and_verify(trust);
    EXPECT_TRUE(r) << r.error().message;
  }
  EXPECT_FALSE(fs::exists(trust.known_relays_file));  // pinning does not touch the TOFU file
}

TEST_F(Tls, WrongPinIsRefused) {
  trust.fingerprint = std::string(64, '0');
  auto r = connect_and_verify(trust);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("refusing"), std::string::npos);
  trust.fingerprint = "not-a-fingerprint";
  EXPECT_FALSE(make_client_context(trust));
}

TEST_F(Tls, TrustOnFirstUseRecordsThenMatchesThenRefusesAnotherCertificate) {
  ASSERT_TRUE(connect_and_verify(trust));
  auto text = slurp(trust.known_relays_file);
  EXPECT_EQ(text, "relay.example:7000 " + identity.fingerprint + "\n");
  EXPECT_EQ(file_mode(trust.known_relays_file), 0600u);
  ASSERT_TRUE(connect_and_verify(trust));
  EXPECT_EQ(slurp(trust.known_relays_file), text);  // nothing added on a match

  auto other = ensure_server_identity((dir.path / "impostor").string(), "", "");
  ASSERT_TRUE(other);
  auto other_ctx = make_server_context(*other);
  ASSERT_TRUE(other_ctx);
  auto r = connect_and_verify(trust, other_ctx->get());
  ASSERT_FALSE(r);
  const auto& m = r.error().message;
  EXPECT_NE(m.find("RELAY IDENTITY HAS CHANGED"), std::string::npos) << m;
  EXPECT_NE(m.find(trust.known_relays_file + ":1"), std::string::npos) << m;
  EXPECT_NE(m.find("SHA256:" + identity.fingerprint), std::string::npos) << m;
  EXPECT_NE(m.find("SHA256:" + other->fingerprint), std::string::npos) << m;
  EXPECT_EQ(slurp(trust.known_relays_file), text);

  // Another relay address is a different entry.
  trust.relay_address = "other.example:7000";
  ASSERT_TRUE(connect_and_verify(trust, other_ctx->get()));
}

TEST_F(Tls, CaVerificationChecksChainAndHostName) {
  trust.ca_file = identity.cert_file;  // the self-signed certificate is its own CA
  for (const char* addr : {"localhost:7000", "127.0.0.1:7000", "[::1]:7000"}) {
    trust.relay_address = addr;
    auto r = connect_and_verify(trust);
    EXPECT_TRUE(r) << addr << ": " << r.error().message;
  }
  EXPECT_FALSE(fs::exists(trust.known_relays_file));
  trust.relay_address = "wrong.example:7000";
  EXPECT_FALSE(connect_and_verify(trust));

  auto other = ensure_server_identity((dir.path / "other").string(), "", "");
  ASSERT_TRUE(other);
  trust.relay_address = "localhost:7000";
  trust.ca_file = other->cert_file;
  EXPECT_FALSE(connect_and_verify(trust));
  trust.ca_file = (dir.path / "missing.pem").string();
  EXPECT_FALSE(make_client_context(trust));
}

TEST_F(Tls, CaAndPinMustBothHold) {
  trust.ca_file = identity.cert_file;
  trust.relay_address = "localhost:7000";
  trust.fingerprint = std::string(64, 'f');
  EXPECT_FALSE(connect_and_verify(trust));
  trust.fingerprint = identity.fingerprint;
  EXPECT_TRUE(connect_and_verify(trust));
}

TEST_F(Tls, SniIsSentForNamesOnly) {
  trust.fingerprint = identity.fingerprint;
  auto cctx = make_client_context(trust);
  ASSERT_TRUE(cctx);
  auto c = connect_pair(*server_ctx, **cctx, trust);
  ASSERT_TRUE(handshake(c));
  const char* sni = SSL_get_servername(c.server.get(), TLSEXT_NAMETYPE_host_name);
  ASSERT_NE(sni, nullptr);
  EXPECT_STREQ(sni, "relay.example");
  trust.relay_address = "127.0.0.1:7000";
  auto c2 = connect_pair(*server_ctx, **cctx, trust);
  ASSERT_TRUE(handshake(c2));
  EXPECT_EQ(SSL_get_servername(c2.server.get(), TLSEXT_NAMETYPE_host_name), nullptr);
}

}  // namespace
}  // namespace porthole::net
