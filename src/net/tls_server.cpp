// The https listener's TLS policy (tls_server.hpp) and small PEM helpers.
#include "net/tls_server.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "core/encoding.hpp"
#include "core/metrics.hpp"
#include "net/tls_context.hpp"
#include "net/tls_socket.hpp"

namespace porthole::net {

namespace {

constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr const char* kTls13Suites = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
constexpr auto kTicketKeyLifetime = std::chrono::hours(12);

struct BioFree {
  void operator()(BIO* b) const { BIO_free_all(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

BioPtr mem_bio(std::string_view pem) { return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()))); }

// Session ticket keys shared by every https context of the process: a current key that
// encrypts new tickets and the previous one, which still decrypts (and whose tickets are
// renewed). A key lives kTicketKeyLifetime; keys exist only in memory (a restart invalidates
// tickets, which costs one full handshake).
class TicketKeys {
 public:
  struct Key {
    std::array<unsigned char, 16> name{};
    std::array<unsigned char, 32> aes{}, hmac{};
    std::chrono::steady_clock::time_point born{};
  };
  static TicketKeys& get() {
    static TicketKeys k;
    return k;
  }
  // The current key (rotated when due); copies, so the caller holds no lock.
  Key current() {
    std::lock_guard lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    if (!have_ || now - keys_[0].born > kTicketKeyLifetime) {
      keys_[1] = keys_[0];
      have_prev_ = have_;
      RAND_bytes(keys_[0].name.data(), 16);
      RAND_bytes(keys_[0].aes.data(), 32);
      RAND_bytes(keys_[0].hmac.data(), 32);
      keys_[0].born = now;
      have_ = true;
    }
    return keys_[0];
  }
  // The key named `name`: 1 current, 2 previous (renew the ticket), 0 unknown.
  int find(const unsigned char* name, Key& out) {
    current();  // rotate if due
    std::lock_guard lock(mu_);
    if (std::memcmp(name, keys_[0].name.data(), 16) == 0) {
      out = keys_[0];
      return 1;
    }
    if (have_prev_ && std::memcmp(name, keys_[1].name.data(), 16) == 0) {
      out = keys_[1];
      return 2;
    }
    return 0;
  }

 private:
  std::mutex mu_;
  std::array<Key, 2> keys_{};
  bool have_ = false, have_prev_ = false;
};

int ticket_cb(SSL*, unsigned char key_name[16], unsigned char* iv, EVP_CIPHER_CTX* cctx, EVP_MAC_CTX* hctx, int enc) {
  TicketKeys::Key k;
  int rc = 1;
  if (enc == 1) {
    k = TicketKeys::get().current();
    std::memcpy(key_name, k.name.data(), 16);
    if (RAND_bytes(iv, EVP_MAX_IV_LENGTH) != 1) return -1;
    if (EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), nullptr, k.aes.data(), iv) != 1) return -1;
  } else {
    rc = TicketKeys::get().find(key_name, k);
    if (rc == 0) return 0;  // unknown (rotated out): a full handshake
    if (EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), nullptr, k.aes.data(), iv) != 1) return -1;
  }
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, k.hmac.data(), k.hmac.size()),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end(),
  };
  if (EVP_MAC_CTX_set_params(hctx, params) != 1) return -1;
  return rc;
}

// A renegotiation attempt is refused by OpenSSL with a no_renegotiation alert; counted when that
// alert goes out. Called for protocol messages (handshake, alerts), not for data.
void count_renegotiation(int write_p, int, int content_type, const void* buf, std::size_t len, SSL*, void*) {
  if (write_p == 0 || content_type != SSL3_RT_ALERT || len < 2) return;
  if (static_cast<const unsigned char*>(buf)[1] != SSL_AD_NO_RENEGOTIATION) return;
  static auto& c = metrics::counter("porthole_relay_tls_rejects_total{reason=\"renegotiation\"}",
                                    "Connections on the https listener refused before or during the TLS handshake, by reason");
  c.inc();
}

int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned inlen,
                void* arg) {
  const auto mode = static_cast<AlpnMode>(reinterpret_cast<std::uintptr_t>(arg));
  const std::string_view want = mode == AlpnMode::acme ? "acme-tls/1" : "http/1.1";
  for (unsigned i = 0; i < inlen;) {
    const unsigned n = in[i];
    if (i + 1 + n > inlen) break;
    if (std::string_view(reinterpret_cast<const char*>(in + i + 1), n) == want) {
      *out = in + i + 1;
      *outlen = static_cast<unsigned char>(n);
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + n;
  }
  // Never advertise what is not spoken: without http/1.1 on offer, no ALPN (plain HTTP/1.1);
  // the challenge context serves nothing but acme-tls/1.
  return mode == AlpnMode::acme ? SSL_TLSEXT_ERR_ALERT_FATAL : SSL_TLSEXT_ERR_NOACK;
}

}  // namespace

Result<SslCtxPtr> make_https_context(std::string_view chain_pem, std::string_view key_pem, AlpnMode mode) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()), SSL_CTX_free);
  if (!ctx) return make_error("cannot create TLS context: {}", openssl_error_text());
  SSL_CTX* c = ctx.get();
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION);
  SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // (OpenSSL 3 refuses client-initiated renegotiation by default; the callback counts attempts.)
  SSL_CTX_set_msg_callback(c, count_renegotiation);
  if (SSL_CTX_set_cipher_list(c, kTls12Ciphers) != 1 || SSL_CTX_set_ciphersuites(c, kTls13Suites) != 1 ||
      SSL_CTX_set1_groups_list(c, "X25519:P-256:P-384") != 1) {
    return make_error("cannot set the TLS cipher policy: {}", openssl_error_text());
  }
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);  // tickets only (stateless)
  SSL_CTX_set_tlsext_ticket_key_evp_cb(c, ticket_cb);
  SSL_CTX_set_alpn_select_cb(c, select_alpn, reinterpret_cast<void*>(static_cast<std::uintptr_t>(mode)));
  auto cb = mem_bio(chain_pem);
  X509* leaf = cb ? PEM_read_bio_X509_AUX(cb.get(), nullptr, nullptr, nullptr) : nullptr;
  if (leaf == nullptr) return make_error("no PEM certificate found: {}", openssl_error_text());
  const int used = SSL_CTX_use_certificate(c, leaf);
  X509_free(leaf);
  if (used != 1) return make_error("cannot use the certificate: {}", openssl_error_text());
  SSL_CTX_clear_chain_certs(c);
  while (X509* extra = PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr)) {
    if (SSL_CTX_add0_chain_cert(c, extra) != 1) {
      X509_free(extra);
      return make_error("cannot add a chain certificate: {}", openssl_error_text());
    }
  }
  ERR_clear_error();  // the loop ends on "no start line"
  auto kb = mem_bio(key_pem);
  EVP_PKEY* key = kb ? PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr) : nullptr;
  if (key == nullptr) return make_error("no PEM private key found: {}", openssl_error_text());
  const int kused = SSL_CTX_use_PrivateKey(c, key);
  EVP_PKEY_free(key);
  if (kused != 1 || SSL_CTX_check_private_key(c) != 1) {
    return make_error("the private key does not match the certificate: {}", openssl_error_text());
  }
  return ctx;
}

std::vector<std::string> certificate_dns_names(std::string_view chain_pem) {
  std::vector<std::string> out;
  auto b = mem_bio(chain_pem);
  X509* cert = b ? PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr) : nullptr;
  if (cert == nullptr) {
    ERR_clear_error();
    return out;
  }
  auto lower = [](std::string s) {
    for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return s;
  };
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
    if (gn->type != GEN_DNS) continue;
    const auto* s = gn->d.dNSName;
    out.push_back(lower(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                    static_cast<std::size_t>(ASN1_STRING_length(s)))));
  }
  GENERAL_NAMES_free(names);
  if (out.empty()) {
    char cn[256] = {};
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn) > 0) {
      out.push_back(lower(cn));
    }
  }
  X509_free(cert);
  return out;
}

std::string pem_fingerprint(std::string_view chain_pem) {
  auto b = mem_bio(chain_pem);
  X509* cert = b ? PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr) : nullptr;
  if (cert == nullptr) {
    ERR_clear_error();
    return {};
  }
  auto fp = certificate_fingerprint(cert);
  X509_free(cert);
  return fp;
}

Result<void> require_client_certificate(SSL* ssl, std::string_view ca_pem) {
  X509_STORE* store = X509_STORE_new();
  STACK_OF(X509_NAME)* names = sk_X509_NAME_new_null();
  if (store == nullptr || names == nullptr) {
    X509_STORE_free(store);
    sk_X509_NAME_free(names);
    return make_error("cannot create a certificate store");
  }
  auto b = mem_bio(ca_pem);
  int count = 0;
  while (X509* ca = b ? PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr) : nullptr) {
    X509_STORE_add_cert(store, ca);
    sk_X509_NAME_push(names, X509_NAME_dup(X509_get_subject_name(ca)));
    X509_free(ca);
    ++count;
  }
  ERR_clear_error();
  if (count == 0) {
    X509_STORE_free(store);
    sk_X509_NAME_pop_free(names, X509_NAME_free);
    return make_error("the mTLS CA holds no PEM certificate");
  }
  SSL_set0_verify_cert_store(ssl, store);  // takes it
  SSL_set0_CA_list(ssl, names);            // takes it: the CAs the client is told about
  SSL_set_verify(ssl, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  return {};
}

std::string client_subject(SSL* ssl) {
  X509* peer = SSL_get0_peer_certificate(ssl);
  if (peer == nullptr || SSL_get_verify_result(ssl) != X509_V_OK) return {};
  BioPtr b(BIO_new(BIO_s_mem()));
  if (!b || X509_NAME_print_ex(b.get(), X509_get_subject_name(peer), 0, XN_FLAG_RFC2253) < 0) return {};
  char* data = nullptr;
  const long n = BIO_get_mem_data(b.get(), &data);
  std::string s(data, static_cast<std::size_t>(n));
  for (auto& ch : s) {
    if (ch == '\r' || ch == '\n') ch = ' ';  // never a header injection
  }
  return s;
}

Result<std::string> read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error("cannot read {}: {}", path, std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<void> write_file_atomically(const std::string& path, std::string_view text, unsigned mode) {
  const std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, static_cast<mode_t>(mode));
  if (fd < 0) return make_error("cannot create {}: {}", tmp, std::strerror(errno));
  ::fchmod(fd, static_cast<mode_t>(mode));
  bool ok = true;
  for (std::size_t off = 0; ok && off < text.size();) {
    const auto n = ::write(fd, text.data() + off, text.size() - off);
    ok = n > 0;
    if (ok) off += static_cast<std::size_t>(n);
  }
  ok = ok && ::fsync(fd) == 0;
  ok = (::close(fd) == 0) && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return make_error("cannot write {}: {}", path, std::strerror(errno));
  }
  return {};
}

}  // namespace porthole::net
