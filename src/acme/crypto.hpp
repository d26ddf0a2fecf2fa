// The cryptography ACME needs, all from OpenSSL 3: EC P-256 keys (the account key and one key
// per certificate), JWK and its RFC 7638 thumbprint, JWS signatures with ES256 (RFC 7515 /
// RFC 8555 6.2), key authorizations, CSRs, the TLS-ALPN-01 challenge certificate (RFC 8737)
// and reading back what a certificate says (validity, names).
#pragma once

#include <array>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

using EVP_PKEY = struct evp_pkey_st;

namespace porthole::acme {

// An EC P-256 private key (copyable handle; the key is shared, never modified).
class Key {
 public:
  static Result<Key> generate();
  static Result<Key> from_pem(std::string_view pem);
  std::string private_pem() const;
  // The public key as a JWK in RFC 7638's canonical form: {"crv":"P-256","kty":"EC","x":..,"y":..}.
  const std::string& jwk() const { return jwk_; }
  // base64url(SHA-256(jwk())).
  std::string thumbprint() const;
  // ES256: base64url of the 64-byte r || s signature over `data`.
  Result<std::string> sign_es256(std::string_view data) const;
  EVP_PKEY* get() const { return key_.get(); }

 private:
  friend struct KeyAccess;
  Key() = default;
  std::shared_ptr<EVP_PKEY> key_;
  std::string jwk_;
};

// A JWS in the flattened JSON serialisation, protected header {alg:ES256, nonce, url, and kid
// when `kid` is not empty, else jwk}. `payload` nullopt: POST-as-GET (an empty payload).
Result<std::string> sign_jws(const Key& key, std::string_view kid, std::string_view nonce, std::string_view url,
                             const std::optional<std::string>& payload);

// RFC 8555 8.1: token "." base64url(JWK thumbprint of the account key).
std::string key_authorization(std::string_view token, const Key& account);

// A PKCS#10 request for `names` (subjectAltName dNSNames; CN = the first), signed with `key`,
// as base64url DER — what finalize takes.
Result<std::string> make_csr(const Key& key, const std::vector<std::string>& names);

// RFC 8737 3: a self-signed certificate for `host` with a critical id-pe-acmeIdentifier
// extension holding SHA-256(key authorization), and its new P-256 key.
struct ChallengeCertificate {
  std::string cert_pem, key_pem;
};
Result<ChallengeCertificate> tls_alpn_certificate(std::string_view host, std::string_view key_authorization);

// What the first certificate of a PEM chain says.
struct CertificateInfo {
  std::time_t not_before = 0, not_after = 0;
  std::vector<std::string> names;  // subjectAltName dNSNames
  std::string serial;              // hex
};
Result<CertificateInfo> inspect_certificate(std::string_view pem);
// Whether the first certificate of `chain_pem` holds `key`'s public key.
bool certificate_matches_key(std::string_view chain_pem, const Key& key);

}  // namespace porthole::acme
