// LocalCa (tls_server.hpp): the relay's own CA in the data dir and the leaves it signs for names
// under --domain.
#include <sys/stat.h>

#include <filesystem>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "net/tls_context.hpp"
#include "net/tls_server.hpp"
#include "net/tls_socket.hpp"

namespace porthole::net {

namespace {

template <class T, void (*F)(T*)>
struct Free {
  void operator()(T* p) const { F(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Free<X509, X509_free>>;
using BioPtr = std::unique_ptr<BIO, Free<BIO, BIO_free_all>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Free<X509_EXTENSION, X509_EXTENSION_free>>;

Result<void> add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return make_error("cannot add certificate extension {}: {}", value, openssl_error_text());
  }
  return {};
}

// A certificate for `key` named `cn`, valid `days`, signed by `issuer_key` (the issuer's name
// from `issuer`, or its own when null: self-signed).
Result<X509Ptr> build(EVP_PKEY* key, const std::string& cn, long days, X509* issuer, EVP_PKEY* issuer_key,
                      const std::vector<std::pair<int, std::string>>& exts) {
  X509Ptr cert(X509_new());
  BIGNUM* serial = BN_new();
  const bool ok = cert && serial && X509_set_version(cert.get(), 2) == 1 &&
                  BN_rand(serial, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1 &&
                  BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert.get())) != nullptr &&
                  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) != nullptr &&
                  X509_time_adj_ex(X509_getm_notAfter(cert.get()), days, 0, nullptr) != nullptr &&
                  X509_set_pubkey(cert.get(), key) == 1;
  BN_free(serial);
  if (!ok) return make_error("cannot build certificate: {}", openssl_error_text());
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                                 0) != 1 ||
      X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name) != 1) {
    return make_error("cannot set certificate name: {}", openssl_error_text());
  }
  for (const auto& [nid, value] : exts) {
    if (auto r = add_ext(cert.get(), issuer ? issuer : cert.get(), nid, value); !r) return r.error();
  }
  if (X509_sign(cert.get(), issuer_key, EVP_sha256()) <= 0) {
    return make_error("cannot sign certificate: {}", openssl_error_text());
  }
  return cert;
}

std::string to_pem(X509* cert) {
  BioPtr b(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(b.get(), cert);
  char* data = nullptr;
  const long n = BIO_get_mem_data(b.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

std::string key_pem(EVP_PKEY* key) {
  BioPtr b(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(b.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long n = BIO_get_mem_data(b.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

PkeyPtr new_key() { return PkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")); }

}  // namespace

struct LocalCa::Keys {
  PkeyPtr key;
  X509Ptr cert;
};

LocalCa::~LocalCa() = default;

Result<std::shared_ptr<LocalCa>> LocalCa::ensure(const std::string& data_dir) {
  if (auto d = ensure_data_dir(data_dir); !d) return d.error();
  const std::string cert_file = data_dir + "/ca-cert.pem";
  const std::string key_file = data_dir + "/ca-key.pem";
  std::shared_ptr<LocalCa> ca(new LocalCa());
  ca->keys_ = std::make_unique<Keys>();
  ca->cert_file_ = cert_file;
  std::error_code ec;
  if (!std::filesystem::exists(cert_file, ec) || !std::filesystem::exists(key_file, ec)) {
    auto key = new_key();
    if (!key) return make_error("cannot generate an EC P-256 key: {}", openssl_error_text());
    auto cert = build(key.get(), "porthole relay local CA", 3650, nullptr, key.get(),
                      {{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
                       {NID_key_usage, "critical,keyCertSign,cRLSign"},
                       {NID_subject_key_identifier, "hash"}});
    if (!cert) return cert.error();
    if (auto w = write_file_atomically(key_file, key_pem(key.get()), 0600); !w) return w.error();
    if (auto w = write_file_atomically(cert_file, to_pem(cert->get()), 0644); !w) return w.error();
    ca->created_ = true;
  }
  auto cert_text = read_text_file(cert_file);
  if (!cert_text) return cert_text.error();
  auto key_text = read_text_file(key_file);
  if (!key_text) return key_text.error();
  BioPtr cb(BIO_new_mem_buf(cert_text->data(), static_cast<int>(cert_text->size())));
  ca->keys_->cert.reset(PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr));
  BioPtr kb(BIO_new_mem_buf(key_text->data(), static_cast<int>(key_text->size())));
  ca->keys_->key.reset(PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr));
  if (!ca->keys_->cert || !ca->keys_->key || X509_check_private_key(ca->keys_->cert.get(), ca->keys_->key.get()) != 1) {
    return make_error("{} / {}: not a matching certificate and key: {}", cert_file, key_file, openssl_error_text());
  }
  ca->cert_pem_ = std::move(*cert_text);
  ca->fingerprint_ = certificate_fingerprint(ca->keys_->cert.get());
  return ca;
}

Result<LocalCa::Leaf> LocalCa::issue(const std::string& host) const {
  auto key = new_key();
  if (!key) return make_error("cannot generate an EC P-256 key: {}", openssl_error_text());
  auto cert = build(key.get(), host.substr(0, 64), 90, keys_->cert.get(), keys_->key.get(),
                    {{NID_basic_constraints, "critical,CA:FALSE"},
                     {NID_key_usage, "critical,digitalSignature"},
                     {NID_ext_key_usage, "serverAuth"},
                     {NID_authority_key_identifier, "keyid:always"},
                     {NID_subject_alt_name, "DNS:" + host}});
  if (!cert) return cert.error();
  return Leaf{to_pem(cert->get()) + cert_pem_, key_pem(key.get())};
}

}  // namespace porthole::net
