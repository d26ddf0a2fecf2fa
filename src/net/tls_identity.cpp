// ensure_server_identity (declared in net/tls_context.hpp): the relay's certificate, loaded or
// created once as a self-signed EC P-256 certificate in the data dir.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <spdlog/spdlog.h>

#include "net/tls_context.hpp"
#include "net/tls_socket.hpp"

namespace porthole::net {
namespace {

namespace fs = std::filesystem;

template <class T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;

constexpr long kValidDays = 3650;

}  // namespace

Result<void> ensure_data_dir(const std::string& dir) {
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir, ec)) return make_error("data dir {} exists but is not a directory", dir);
    return {};
  }
  fs::create_directories(dir, ec);
  if (ec) return make_error("cannot create data dir {}: {}", dir, ec.message());
  if (::chmod(dir.c_str(), 0700) != 0)
    return make_error("cannot chmod 0700 {}: {}", dir, std::strerror(errno));
  return {};
}

namespace {

// A DNS name usable in a certificate (letters, digits, '-', '.'), or "" when not.
std::string certificate_hostname() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return {};
  std::string h(buf);
  if (h.empty() || h.size() > 253 || h == "localhost") return {};
  for (char c : h) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
    if (!ok) return {};
  }
  return h;
}

Result<void> add_ext(X509* cert, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return make_error("cannot add certificate extension {}: {}", value, openssl_error_text());
  }
  return {};
}

Result<X509Ptr> build_certificate(EVP_PKEY* key, const std::string& hostname) {
  X509Ptr cert(X509_new());
  BnPtr serial(BN_new());
  if (!cert || !serial || X509_set_version(cert.get(), 2) != 1 ||
      BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr ||
      X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) == nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(cert.get()), kValidDays, 0, nullptr) == nullptr ||
      X509_set_pubkey(cert.get(), key) != 1) {
    return make_error("cannot build certificate: {}", openssl_error_text());
  }
  std::string cn = hostname.empty() ? "porthole relay" : ("porthole relay " + hostname).substr(0, 64);
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()),
                                 -1, -1, 0) != 1 ||
      X509_set_issuer_name(cert.get(), name) != 1) {
    return make_error("cannot set certificate name: {}", openssl_error_text());
  }
  std::string san = "DNS:localhost,IP:127.0.0.1,IP:::1";
  if (!hostname.empty()) san += ",DNS:" + hostname;
  for (auto [nid, value] : {std::pair<int, std::string>{NID_basic_constraints, "critical,CA:FALSE"},
                            {NID_key_usage, "critical,digitalSignature"},
                            {NID_ext_key_usage, "serverAuth"},
                            {NID_subject_key_identifier, "hash"},
                            {NID_subject_alt_name, san}}) {
    if (auto r = add_ext(cert.get(), nid, value); !r) return r.error();
  }
  if (X509_sign(cert.get(), key, EVP_sha256()) <= 0)
    return make_error("cannot sign certificate: {}", openssl_error_text());
  return cert;
}

// Writes through `write` into PATH.tmp (mode 0600 for keys, 0644 otherwise), then renames.
template <class WriteFn>
Result<void> write_pem_atomically(const std::string& path, mode_t mode, WriteFn write) {
  const std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return make_error("cannot create {}: {}", tmp, std::strerror(errno));
  ::fchmod(fd, mode);  // independent of the umask
  FILE* f = ::fdopen(fd, "w");
  if (f == nullptr) {
    ::close(fd);
    return make_error("cannot open {}: {}", tmp, std::strerror(errno));
  }
  bool ok = write(f) == 1;
  ok = (std::fflush(f) == 0) && ok && ::fsync(fd) == 0;
  ok = (std::fclose(f) == 0) && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return make_error("cannot write {}: {}", path, std::strerror(errno));
  }
  return {};
}

Result<void> create_self_signed(const std::string& cert_file, const std::string& key_file) {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return make_error("cannot generate an EC P-256 key: {}", openssl_error_text());
  auto cert = build_certificate(key.get(), certificate_hostname());
  if (!cert) return cert.error();
  auto wrote_key = write_pem_atomically(key_file, 0600, [&](FILE* f) {
    return PEM_write_PrivateKey(f, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  });
  if (!wrote_key) return wrote_key.error();
  return write_pem_atomically(cert_file, 0644, [&](FILE* f) { return PEM_write_X509(f, cert->get()); });
}

Result<ServerIdentity> load_identity(const std::string& cert_file, const std::string& key_file,
                                     bool created) {
  BioPtr cbio(BIO_new_file(cert_file.c_str(), "r"));
  if (!cbio) return make_error("{}: cannot open certificate: {}", cert_file, openssl_error_text());
  X509Ptr cert(PEM_read_bio_X509(cbio.get(), nullptr, nullptr, nullptr));
  if (!cert) return make_error("{}: not a PEM certificate: {}", cert_file, openssl_error_text());
  BioPtr kbio(BIO_new_file(key_file.c_str(), "r"));
  if (!kbio) return make_error("{}: cannot open private key: {}", key_file, openssl_error_text());
  PkeyPtr key(PEM_read_bio_PrivateKey(kbio.get(), nullptr, nullptr, nullptr));
  if (!key) return make_error("{}: not a PEM private key: {}", key_file, openssl_error_text());
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    return make_error("{} does not match the certificate in {}", key_file, cert_file);
  }
  struct stat st {};
  if (::stat(key_file.c_str(), &st) == 0 && (st.st_mode & 0077) != 0) {
    spdlog::warn("{} is readable by other users (mode {:o}); run: chmod 600 {}", key_file, st.st_mode & 0777,
                 key_file);
  }
  return ServerIdentity{cert_file, key_file, certificate_fingerprint(cert.get()), created};
}

}  // namespace

Result<ServerIdentity> ensure_server_identity(const std::string& data_dir, const std::string& cert_file,
                                              const std::string& key_file) {
  if (!cert_file.empty() || !key_file.empty()) {
    if (cert_file.empty() || key_file.empty()) return make_error("--cert and --key must be given together");
    return load_identity(cert_file, key_file, false);
  }
  if (auto r = ensure_data_dir(data_dir); !r) return r.error();
  const std::string cert = (fs::path(data_dir) / "relay-cert.pem").string();
  const std::string key = (fs::path(data_dir) / "relay-key.pem").string();
  std::error_code ec;
  const bool has_cert = fs::exists(cert, ec);
  const bool has_key = fs::exists(key, ec);
  if (has_cert && has_key) return load_identity(cert, key, false);
  if (has_cert || has_key) {
    return make_error(
        "{} exists but {} is missing: restore it, delete {} to create a new self-signed "
        "certificate (agents that pinned the old one must then forget it), or pass --cert/--key",
        has_cert ? cert : key, has_cert ? key : cert, has_cert ? cert : key);
  }
  if (auto r = create_self_signed(cert, key); !r) return r.error();
  return load_identity(cert, key, true);
}

}  // namespace porthole::net
