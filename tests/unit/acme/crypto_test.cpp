// Keys, JWS, CSR and the RFC 8737 challenge certificate, each read back with OpenSSL.
#include <gtest/gtest.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <nlohmann/json.hpp>

#include "acme/crypto.hpp"
#include "core/encoding.hpp"

namespace porthole::acme {
namespace {

std::string decode(std::string_view b64) {
  auto v = encoding::base64url_decode(b64);
  EXPECT_TRUE(v);
  return v ? std::string(v->begin(), v->end()) : std::string();
}

bool verify_es256(const Key& key, const std::string& data, const std::string& sig_b64) {
  const auto raw = decode(sig_b64);
  if (raw.size() != 64) return false;
  ECDSA_SIG* sig = ECDSA_SIG_new();
  ECDSA_SIG_set0(sig, BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()), 32, nullptr),
                 BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()) + 32, 32, nullptr));
  unsigned char* der = nullptr;
  const int len = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key.get()) == 1 &&
            EVP_DigestVerify(ctx, der, static_cast<std::size_t>(len), reinterpret_cast<const unsigned char*>(data.data()),
                             data.size()) == 1;
  EVP_MD_CTX_free(ctx);
  OPENSSL_free(der);
  return ok;
}

TEST(AcmeCrypto, KeyRoundTripAndThumbprint) {
  auto k = Key::generate();
  ASSERT_TRUE(k);
  auto again = Key::from_pem(k->private_pem());
  ASSERT_TRUE(again);
  EXPECT_EQ(k->jwk(), again->jwk());
  EXPECT_EQ(k->thumbprint(), again->thumbprint());
  EXPECT_EQ(k->thumbprint().size(), 43u);
  auto j = nlohmann::json::parse(k->jwk());
  EXPECT_EQ(j["kty"], "EC");
  EXPECT_EQ(j["crv"], "P-256");
  EXPECT_TRUE(k->jwk().starts_with(R"({"crv":"P-256","kty":"EC","x":")"));  // RFC 7638 member order
  EXPECT_FALSE(Key::from_pem("garbage"));
}

TEST(AcmeCrypto, Rfc7638ThumbprintOfAKnownKey) {
  // A fixed P-256 key; its thumbprint is computed independently:
  // from `openssl ec -pubout -outform DER` and SHA-256 of the canonical JWK, outside porthole.
  const char* pem =
      "-----BEGIN PRIVATE KEY-----\n"
      "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgJ/kUvANSUBXMSH2B\n"
      "jyInvJqDygh3671KRtKWcpf/ULuhRANCAAScQfshxm2b57/NpP7xt9PAns+731aL\n"
      "SCrJbk/5r4HXIIy4LPpjK9FRYg2M7cmazYcpukjRlS2JybD6AKvFCyxO\n"
      "-----END PRIVATE KEY-----\n";
  auto k = Key::from_pem(pem);
  ASSERT_TRUE(k) << k.error().message;
  EXPECT_EQ(k->jwk(),
            R"({"crv":"P-256","kty":"EC","x":"nEH7IcZtm-e_zaT-8bfTwJ7Pu99Wi0gqyW5P-a-B1yA","y":"jLgs-mMr0VFiDYztyZrNhym6SNGVLYnJsPoAq8ULLE4"})");
  EXPECT_EQ(k->thumbprint(), "sZ6YXrS8n5X2cqCMySabbkxDxOypzQAU0BHDdhU5pKU");
  EXPECT_EQ(key_authorization("tok", *k), "tok.sZ6YXrS8n5X2cqCMySabbkxDxOypzQAU0BHDdhU5pKU");
}

TEST(AcmeCrypto, JwsVerifies) {
  auto k = Key::generate();
  ASSERT_TRUE(k);
  auto jws = sign_jws(*k, "", "nonce1", "https://ca/acct", std::string(R"({"termsOfServiceAgreed":true})"));
  ASSERT_TRUE(jws);
  auto j = nlohmann::json::parse(*jws);
  auto header = nlohmann::json::parse(decode(j["protected"].get<std::string>()));
  EXPECT_EQ(header["alg"], "ES256");
  EXPECT_EQ(header["nonce"], "nonce1");
  EXPECT_EQ(header["url"], "https://ca/acct");
  EXPECT_EQ(header["jwk"].dump(), k->jwk());
  EXPECT_FALSE(header.contains("kid"));
  EXPECT_EQ(decode(j["payload"].get<std::string>()), R"({"termsOfServiceAgreed":true})");
  const auto input = j["protected"].get<std::string>() + "." + j["payload"].get<std::string>();
  EXPECT_TRUE(verify_es256(*k, input, j["signature"]));
  EXPECT_FALSE(verify_es256(*k, input + "x", j["signature"]));  // the check can fail

  auto get = sign_jws(*k, "https://ca/acct/1", "n2", "https://ca/order/1", std::nullopt);  // POST-as-GET
  ASSERT_TRUE(get);
  auto g = nlohmann::json::parse(*get);
  EXPECT_EQ(g["payload"], "");
  EXPECT_EQ(nlohmann::json::parse(decode(g["protected"].get<std::string>()))["kid"], "https://ca/acct/1");
}

TEST(AcmeCrypto, CsrNamesAndSignature) {
  auto k = Key::generate();
  ASSERT_TRUE(k);
  auto csr = make_csr(*k, {"a.example", "b.example"});
  ASSERT_TRUE(csr);
  auto der = encoding::base64url_decode(*csr);
  ASSERT_TRUE(der);
  const unsigned char* p = der->data();
  X509_REQ* req = d2i_X509_REQ(nullptr, &p, static_cast<long>(der->size()));
  ASSERT_NE(req, nullptr);
  EVP_PKEY* pub = X509_REQ_get0_pubkey(req);
  EXPECT_EQ(X509_REQ_verify(req, pub), 1);
  EXPECT_EQ(EVP_PKEY_eq(pub, k->get()), 1);
  STACK_OF(X509_EXTENSION)* exts = X509_REQ_get_extensions(req);
  auto* names = static_cast<GENERAL_NAMES*>(X509V3_get_d2i(exts, NID_subject_alt_name, nullptr, nullptr));
  ASSERT_NE(names, nullptr);
  ASSERT_EQ(sk_GENERAL_NAME_num(names), 2);
  const auto* n1 = sk_GENERAL_NAME_value(names, 1)->d.dNSName;
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(n1)), ASN1_STRING_length(n1)), "b.example");
  GENERAL_NAMES_free(names);
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  X509_REQ_free(req);
}

TEST(AcmeCrypto, TlsAlpnChallengeCertificate) {
  const std::string authz = "token.thumb";
  auto c = tls_alpn_certificate("a.example", authz);
  ASSERT_TRUE(c) << c.error().message;
  BIO* bio = BIO_new_mem_buf(c->cert_pem.data(), static_cast<int>(c->cert_pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ASSERT_NE(cert, nullptr);
  ASN1_OBJECT* oid = OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1);
  const int at = X509_get_ext_by_OBJ(cert, oid, -1);
  ASSERT_GE(at, 0);
  X509_EXTENSION* ext = X509_get_ext(cert, at);
  EXPECT_EQ(X509_EXTENSION_get_critical(ext), 1);
  const ASN1_OCTET_STRING* v = X509_EXTENSION_get_data(ext);
  // extnValue = DER OCTET STRING (0x04 0x20) of SHA-256(key authorization)
  const unsigned char* p = ASN1_STRING_get0_data(v);
  ASN1_OCTET_STRING* inner = d2i_ASN1_OCTET_STRING(nullptr, &p, ASN1_STRING_length(v));
  ASSERT_NE(inner, nullptr);
  unsigned char digest[32];
  unsigned int dn = 0;
  EVP_Digest(authz.data(), authz.size(), digest, &dn, EVP_sha256(), nullptr);
  ASSERT_EQ(ASN1_STRING_length(inner), 32);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(inner)), 32),
            std::string(reinterpret_cast<const char*>(digest), 32));
  ASN1_OCTET_STRING_free(inner);
  ASN1_OBJECT_free(oid);
  EXPECT_EQ(X509_check_host(cert, "a.example", 0, 0, nullptr), 1);
  EXPECT_NE(X509_check_host(cert, "b.example", 0, 0, nullptr), 1);
  auto key = Key::from_pem(c->key_pem);
  ASSERT_TRUE(key);
  EXPECT_EQ(X509_check_private_key(cert, key->get()), 1);
  X509_free(cert);
  auto info = inspect_certificate(c->cert_pem);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->names, std::vector<std::string>{"a.example"});
  EXPECT_EQ(info->not_after - info->not_before, 8 * 86400);
  EXPECT_TRUE(certificate_matches_key(c->cert_pem, *key));
  EXPECT_FALSE(certificate_matches_key(c->cert_pem, *Key::generate()));
}

}  // namespace
}  // namespace porthole::acme
