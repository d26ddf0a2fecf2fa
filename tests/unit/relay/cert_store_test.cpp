// CertStore: which certificate each name gets (exact > wildcard, installed > file, the local CA
// for names under the domain, none otherwise), reload on change, and the ACME hooks
// (install, set_alpn_challenge / clear_alpn_challenge) — checked with real TLS handshakes over
// memory BIOs (no sockets): the served certificate's name and the negotiated ALPN.
#include "relay/cert_store.hpp"

#include <sys/stat.h>

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "../temp_dir.hpp"

using namespace porthole;
using porthole::test_util::TempDir;

namespace {

std::string write(const std::filesystem::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary) << text;
  return p.string();
}

struct Handshake {
  bool ok = false;
  std::string subject_cn;  // the served leaf's CN
  std::string alpn;
};

// A client handshake against `ctx` with SNI and ALPN offered, all in memory.
Handshake shake(SSL_CTX* server_ctx, const std::string& sni, const std::vector<std::string>& alpn) {
  Handshake h;
  SSL_CTX* cctx = SSL_CTX_new(TLS_client_method());
  SSL* c = SSL_new(cctx);
  SSL* s = SSL_new(server_ctx);
  BIO *c_io = nullptr, *s_io = nullptr;
  BIO_new_bio_pair(&c_io, 0, &s_io, 0);
  SSL_set_bio(c, c_io, c_io);
  SSL_set_bio(s, s_io, s_io);
  SSL_set_connect_state(c);
  SSL_set_accept_state(s);
  SSL_ctrl(c, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, const_cast<char*>(sni.c_str()));
  std::string wire;
  for (const auto& p : alpn) {
    wire.push_back(static_cast<char>(p.size()));
    wire += p;
  }
  if (!wire.empty()) SSL_set_alpn_protos(c, reinterpret_cast<const unsigned char*>(wire.data()), static_cast<unsigned>(wire.size()));
  for (int i = 0; i < 20 && !(SSL_is_init_finished(c) && SSL_is_init_finished(s)); ++i) {
    SSL_do_handshake(c);
    SSL_do_handshake(s);
  }
  h.ok = SSL_is_init_finished(c) && SSL_is_init_finished(s);
  if (X509* peer = SSL_get0_peer_certificate(c)) {
    char cn[256] = {};
    X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof cn);
    h.subject_cn = cn;
  }
  const unsigned char* sel = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(c, &sel, &len);
  if (sel) h.alpn.assign(reinterpret_cast<const char*>(sel), len);
  SSL_free(c);
  SSL_free(s);
  SSL_CTX_free(cctx);
  ERR_clear_error();
  return h;
}

class CertStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = net::LocalCa::ensure((dir.path / "pki").string());
    ASSERT_TRUE(ca) << ca.error().message;
    pki = *ca;
  }
  // A certificate for `host` (signed by a test CA; the CN is the host name).
  std::pair<std::string, std::string> files(const std::string& name, const std::string& host) {
    auto leaf = pki->issue(host);
    EXPECT_TRUE(leaf);
    return {write(dir.path / (name + ".pem"), leaf->chain_pem), write(dir.path / (name + "-key.pem"), leaf->key_pem)};
  }
  std::shared_ptr<relay::CertStore> store(std::vector<config::CertificateConfig> f) {
    auto s = relay::CertStore::create({(dir.path / "data").string(), "localhost", std::move(f)});
    EXPECT_TRUE(s) << (s ? "" : s.error().message);
    return s ? *s : nullptr;
  }
  std::string served(relay::CertStore& s, const std::string& host) {
    auto ctx = s.context_for(host);
    if (!ctx) return "(none)";
    return shake(ctx.get(), host, {"http/1.1"}).subject_cn;
  }
  TempDir dir;
  std::shared_ptr<net::LocalCa> pki;
};

}  // namespace

TEST_F(CertStoreTest, MostSpecificWins) {
  auto [wc, wk] = files("wild", "*.example.test");
  auto [ec, ek] = files("exact", "exact.example.test");
  auto s = store({{"*.example.test", wc, wk}, {"", ec, ek}});  // the second's names from its SAN
  ASSERT_TRUE(s);
  EXPECT_EQ(served(*s, "a.example.test"), "*.example.test");
  EXPECT_EQ(served(*s, "exact.example.test"), "exact.example.test");
  EXPECT_EQ(served(*s, "EXACT.example.test."), "exact.example.test");
  EXPECT_EQ(served(*s, "b.a.example.test"), "(none)");  // a wildcard covers one label
  EXPECT_EQ(served(*s, "example.test"), "(none)");
  EXPECT_EQ(served(*s, "other.test"), "(none)");  // never another host's certificate
  EXPECT_EQ(s->source_of("a.example.test"), "file:" + wc);
}

TEST_F(CertStoreTest, LocalCaForNamesUnderTheDomain) {
  auto s = store({});
  ASSERT_TRUE(s);
  EXPECT_EQ(served(*s, "app.localhost"), "app.localhost");
  EXPECT_EQ(s->source_of("app.localhost"), "local-ca");
  EXPECT_EQ(served(*s, "evil-localhost"), "(none)");
  // The CA is made once, its key 0600, and reused by the next store.
  struct stat st {};
  ASSERT_EQ(::stat((dir.path / "data" / "ca-key.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const auto fp = s->ca().fingerprint();
  auto again = store({});
  EXPECT_EQ(again->ca().fingerprint(), fp);
  EXPECT_FALSE(again->ca().created());
}

TEST_F(CertStoreTest, InstallReplacesFilesForThatExactHost) {
  auto [wc, wk] = files("wild", "*.example.test");
  auto s = store({{"*.example.test", wc, wk}});
  auto issued = pki->issue("a.example.test");
  ASSERT_TRUE(s->install("a.example.test", issued->chain_pem, issued->key_pem));
  EXPECT_EQ(served(*s, "a.example.test"), "a.example.test");
  EXPECT_EQ(s->source_of("a.example.test"), "installed");
  EXPECT_EQ(served(*s, "b.example.test"), "*.example.test");  // others keep the file
  // An issued certificate also extends: a name nothing covered before.
  auto other = pki->issue("new.other.test");
  ASSERT_TRUE(s->install("new.other.test", other->chain_pem, other->key_pem));
  EXPECT_EQ(served(*s, "new.other.test"), "new.other.test");
  // A mismatched pair is refused and changes nothing.
  EXPECT_FALSE(s->install("a.example.test", other->chain_pem, issued->key_pem));
  EXPECT_EQ(served(*s, "a.example.test"), "a.example.test");
}

TEST_F(CertStoreTest, AlpnChallenge) {
  auto s = store({});
  EXPECT_EQ(s->challenge_for("app.localhost"), nullptr);
  auto ch = pki->issue("app.localhost");
  ASSERT_TRUE(s->set_alpn_challenge("app.localhost", ch->chain_pem, ch->key_pem));
  auto ctx = s->challenge_for("app.localhost");
  ASSERT_NE(ctx, nullptr);
  auto h = shake(ctx.get(), "app.localhost", {"acme-tls/1"});
  EXPECT_TRUE(h.ok);
  EXPECT_EQ(h.alpn, "acme-tls/1");
  // The challenge context speaks nothing else (RFC 8737: acme-tls/1 only).
  EXPECT_FALSE(shake(ctx.get(), "app.localhost", {"http/1.1"}).ok);
  // The normal context never selects acme-tls/1.
  auto normal = shake(s->context_for("app.localhost").get(), "app.localhost", {"acme-tls/1", "http/1.1"});
  EXPECT_EQ(normal.alpn, "http/1.1");
  s->clear_alpn_challenge("app.localhost");
  EXPECT_EQ(s->challenge_for("app.localhost"), nullptr);
}

TEST_F(CertStoreTest, ReloadWhenFilesChange) {
  auto [c1, k1] = files("site", "one.example.test");
  auto s = store({{"*.example.test", c1, k1}});
  EXPECT_EQ(served(*s, "one.example.test"), "one.example.test");
  EXPECT_EQ(s->reload_changed(), 0u);
  auto leaf = pki->issue("two.example.test");
  write(c1, leaf->chain_pem);  // the cert first: a half-done update keeps the old pair
  std::filesystem::last_write_time(c1, std::filesystem::last_write_time(c1) + std::chrono::seconds(2));
  EXPECT_EQ(s->reload_changed(), 0u);
  EXPECT_EQ(served(*s, "one.example.test"), "one.example.test");
  write(k1, leaf->key_pem);
  std::filesystem::last_write_time(k1, std::filesystem::last_write_time(k1) + std::chrono::seconds(2));
  EXPECT_EQ(s->reload_changed(), 1u);
  EXPECT_EQ(served(*s, "one.example.test"), "two.example.test");
}

TEST_F(CertStoreTest, BadFilesNameTheFile) {
  auto r = relay::CertStore::create({(dir.path / "data").string(), "localhost", {{"x.test", "/nonexistent.pem", "/k.pem"}}});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("/nonexistent.pem"), std::string::npos);
}

TEST_F(CertStoreTest, TlsPolicy) {
  auto s = store({});
  auto ctx = s->context_for("app.localhost");
  EXPECT_EQ(SSL_CTX_get_min_proto_version(ctx.get()), TLS1_2_VERSION);
  EXPECT_NE(SSL_CTX_get_options(ctx.get()) & SSL_OP_CIPHER_SERVER_PREFERENCE, 0u);
  EXPECT_NE(SSL_CTX_get_options(ctx.get()) & SSL_OP_NO_RENEGOTIATION, 0u);
  // Every TLS 1.2 suite offered is AEAD (GCM or ChaCha20-Poly1305) with ECDHE.
  SSL* ssl = SSL_new(ctx.get());
  STACK_OF(SSL_CIPHER)* ciphers = SSL_get_ciphers(ssl);
  for (int i = 0; i < sk_SSL_CIPHER_num(ciphers); ++i) {
    const SSL_CIPHER* c = sk_SSL_CIPHER_value(ciphers, i);
    EXPECT_EQ(SSL_CIPHER_is_aead(c), 1) << SSL_CIPHER_get_name(c);
  }
  SSL_free(ssl);
}
