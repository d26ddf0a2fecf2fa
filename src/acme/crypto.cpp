#include "acme/crypto.hpp"

#include <algorithm>
#include <array>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <nlohmann/json.hpp>

#include "core/encoding.hpp"

namespace porthole::acme {

namespace {

template <class T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using ReqPtr = std::unique_ptr<X509_REQ, Deleter<X509_REQ, X509_REQ_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using SigPtr = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG, ECDSA_SIG_free>>;
using ObjPtr = std::unique_ptr<ASN1_OBJECT, Deleter<ASN1_OBJECT, ASN1_OBJECT_free>>;
using OctetPtr = std::unique_ptr<ASN1_OCTET_STRING, Deleter<ASN1_OCTET_STRING, ASN1_OCTET_STRING_free>>;
using NamesPtr = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES, GENERAL_NAMES_free>>;

std::string b64(std::string_view s) {
  return encoding::base64url_encode({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()});
}

std::string bio_string(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

Result<std::string> coordinate(EVP_PKEY* key, const char* name) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &raw) != 1) return make_error("cannot read the EC public key");
  BnPtr bn(raw);
  std::uint8_t buf[32];
  if (BN_bn2binpad(bn.get(), buf, sizeof buf) != sizeof buf) return make_error("EC coordinate too large");
  return encoding::base64url_encode(buf);
}


std::array<std::uint8_t, 32> sha256(std::string_view s) {
  std::array<std::uint8_t, 32> out{};
  unsigned int n = 0;
  EVP_Digest(s.data(), s.size(), out.data(), &n, EVP_sha256(), nullptr);
  return out;
}

std::time_t to_time(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return ::timegm(&tm);
}

Result<X509Ptr> read_first_certificate(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return make_error("not a PEM certificate");
  return cert;
}

Result<void> add_san(X509* cert, X509_REQ* req, const std::vector<std::string>& names,
                     STACK_OF(X509_EXTENSION) * exts) {
  std::string value;
  for (const auto& n : names) value += (value.empty() ? "DNS:" : ",DNS:") + n;
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, req, nullptr, 0);
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, value.c_str()));
  if (!ext) return make_error("cannot build subjectAltName for {}", value);
  if (cert != nullptr && X509_add_ext(cert, ext.get(), -1) != 1) return make_error("cannot add subjectAltName");
  if (exts != nullptr) {
    if (sk_X509_EXTENSION_push(exts, ext.get()) == 0) return make_error("cannot add subjectAltName");
    (void)ext.release();
  }
  return {};
}

}  // namespace

struct KeyAccess {
  static Result<Key> make(EVP_PKEY* raw) {
    Key k;
    k.key_.reset(raw, EVP_PKEY_free);
    auto x = coordinate(raw, OSSL_PKEY_PARAM_EC_PUB_X);
    auto y = coordinate(raw, OSSL_PKEY_PARAM_EC_PUB_Y);
    if (!x || !y) return make_error("cannot read the EC public key");
    // RFC 7638 3.2: members in lexicographic order, no whitespace.
    k.jwk_ = R"({"crv":"P-256","kty":"EC","x":")" + *x + R"(","y":")" + *y + R"("})";
    return k;
  }
};

Result<Key> Key::generate() {
  EVP_PKEY* raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  if (raw == nullptr) return make_error("cannot generate an EC P-256 key");
  return KeyAccess::make(raw);
}

Result<Key> Key::from_pem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EVP_PKEY* raw = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (raw == nullptr) return make_error("not a PEM private key");
  char group[64] = {};
  std::size_t len = 0;
  if (EVP_PKEY_get_base_id(raw) != EVP_PKEY_EC ||
      EVP_PKEY_get_utf8_string_param(raw, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len) != 1 ||
      std::string_view(group, len) != "prime256v1") {
    EVP_PKEY_free(raw);
    return make_error("the key is not an EC P-256 key");
  }
  return KeyAccess::make(raw);
}

std::string Key::private_pem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr);
  return bio_string(bio.get());
}

std::string Key::thumbprint() const {
  const auto d = sha256(jwk_);
  return encoding::base64url_encode(d);
}

Result<std::string> Key::sign_es256(std::string_view data) const {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  std::size_t len = 0;
  if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
    return make_error("ES256 signing failed");
  }
  std::vector<unsigned char> der(len);
  if (EVP_DigestSign(ctx.get(), der.data(), &len, reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
    return make_error("ES256 signing failed");
  }
  const unsigned char* p = der.data();
  SigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(len)));
  if (!sig) return make_error("ES256 signing produced no ECDSA signature");
  std::uint8_t raw[64];
  if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), raw, 32) != 32 ||
      BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), raw + 32, 32) != 32) {
    return make_error("ES256 signature out of range");
  }
  return encoding::base64url_encode(raw);
}

Result<std::string> sign_jws(const Key& key, std::string_view kid, std::string_view nonce, std::string_view url,
                             const std::optional<std::string>& payload) {
  nlohmann::json header{{"alg", "ES256"}, {"nonce", nonce}, {"url", url}};
  if (kid.empty()) {
    header["jwk"] = nlohmann::json::parse(key.jwk());
  } else {
    header["kid"] = kid;
  }
  const auto protected_b64 = b64(header.dump());
  const auto payload_b64 = payload ? b64(*payload) : std::string();
  auto sig = key.sign_es256(protected_b64 + "." + payload_b64);
  if (!sig) return sig.error();
  return nlohmann::json{{"protected", protected_b64}, {"payload", payload_b64}, {"signature", *sig}}.dump();
}

std::string key_authorization(std::string_view token, const Key& account) {
  return std::string(token) + "." + account.thumbprint();
}

Result<std::string> make_csr(const Key& key, const std::vector<std::string>& names) {
  if (names.empty()) return make_error("a CSR needs at least one name");
  ReqPtr req(X509_REQ_new());
  X509_REQ_set_version(req.get(), 0);
  X509_NAME* subject = X509_REQ_get_subject_name(req.get());
  if (names.front().size() <= 64) {
    X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(names.front().c_str()), -1, -1, 0);
  }
  if (X509_REQ_set_pubkey(req.get(), key.get()) != 1) return make_error("cannot put the key into the CSR");
  STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
  auto san = add_san(nullptr, req.get(), names, exts);
  const bool added = san && X509_REQ_add_extensions(req.get(), exts) == 1;
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  if (!added) return san ? make_error("cannot add extensions to the CSR") : san.error();
  if (X509_REQ_sign(req.get(), key.get(), EVP_sha256()) <= 0) return make_error("cannot sign the CSR");
  const int len = i2d_X509_REQ(req.get(), nullptr);
  if (len <= 0) return make_error("cannot encode the CSR");
  std::vector<std::uint8_t> der(static_cast<std::size_t>(len));
  unsigned char* p = der.data();
  i2d_X509_REQ(req.get(), &p);
  return encoding::base64url_encode(der);
}

Result<ChallengeCertificate> tls_alpn_certificate(std::string_view host, std::string_view key_authz) {
  auto key = Key::generate();
  if (!key) return key.error();
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  std::uint8_t serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;
  BnPtr bn(BN_bin2bn(serial, sizeof serial, nullptr));
  BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get()));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -86400);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 7 * 86400);
  X509_NAME* name = X509_get_subject_name(cert.get());
  const std::string cn(host.substr(0, 64));
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509_set_pubkey(cert.get(), key->get());
  if (auto r = add_san(cert.get(), nullptr, {std::string(host)}, nullptr); !r) return r.error();
  // id-pe-acmeIdentifier (1.3.6.1.5.5.7.1.31), critical; extnValue = DER OCTET STRING (32 bytes).
  ObjPtr oid(OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1));
  const auto digest = sha256(key_authz);
  std::uint8_t der[34] = {0x04, 0x20};
  std::copy(digest.begin(), digest.end(), der + 2);
  OctetPtr value(ASN1_OCTET_STRING_new());
  ASN1_OCTET_STRING_set(value.get(), der, sizeof der);
  ExtPtr ext(X509_EXTENSION_create_by_OBJ(nullptr, oid.get(), 1, value.get()));
  if (!oid || !ext || X509_add_ext(cert.get(), ext.get(), -1) != 1) return make_error("cannot add acmeIdentifier");
  if (X509_sign(cert.get(), key->get(), EVP_sha256()) <= 0) return make_error("cannot sign the challenge certificate");
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert.get());
  return ChallengeCertificate{bio_string(bio.get()), key->private_pem()};
}

Result<CertificateInfo> inspect_certificate(std::string_view pem) {
  auto cert = read_first_certificate(pem);
  if (!cert) return cert.error();
  CertificateInfo info;
  info.not_before = to_time(X509_get0_notBefore(cert->get()));
  info.not_after = to_time(X509_get0_notAfter(cert->get()));
  if (info.not_before == 0 || info.not_after <= info.not_before) return make_error("the certificate's validity is unreadable");
  NamesPtr names(static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert->get(), NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* g = sk_GENERAL_NAME_value(names.get(), i);
    if (g->type != GEN_DNS) continue;
    const auto* s = g->d.dNSName;
    info.names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                            static_cast<std::size_t>(ASN1_STRING_length(s)));
  }
  BnPtr serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert->get()), nullptr));
  if (serial) {
    char* hex = BN_bn2hex(serial.get());
    info.serial = hex;
    OPENSSL_free(hex);
  }
  return info;
}

bool certificate_matches_key(std::string_view chain_pem, const Key& key) {
  auto cert = read_first_certificate(chain_pem);
  if (!cert) return false;
  return X509_check_private_key(cert->get(), key.get()) == 1;
}

}  // namespace porthole::acme
