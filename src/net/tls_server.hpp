// Server TLS for visitors (the relay's --https listener): the TLS policy in one place, and the
// relay's local certificate authority for names under its own --domain (docs/tls.md).
//
// Policy: TLS 1.2 and 1.3 only; AEAD suites only (ECDHE with AES-GCM or ChaCha20-Poly1305 in
// TLS 1.2; the TLS 1.3 suites are all AEAD); the server's preference order; no compression, no
// renegotiation; session tickets (stateless resumption) encrypted with keys that rotate every
// 12 hours (the previous key still decrypts, and its tickets are renewed); ALPN `http/1.1` only
// (a client offering only h2 gets no ALPN, which is HTTP/1.1), or exactly `acme-tls/1` for the
// TLS-ALPN-01 challenge context (RFC 8737).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/ssl.h>

#include "core/result.hpp"

namespace porthole::net {

using SslCtxPtr = std::shared_ptr<SSL_CTX>;

enum class AlpnMode { http11, acme };

// A server context for this certificate chain (leaf first) and private key, both PEM text.
Result<SslCtxPtr> make_https_context(std::string_view chain_pem, std::string_view key_pem, AlpnMode mode);

// The DNS names (subjectAltName, else the CN) of the first certificate in `chain_pem`, lower case.
std::vector<std::string> certificate_dns_names(std::string_view chain_pem);
// SHA-256 of the first certificate's DER, 64 hex characters ("" when it does not parse).
std::string pem_fingerprint(std::string_view chain_pem);

// Requires a client certificate issued by one of the CAs in `ca_pem` on this connection
// (before the handshake): without one the handshake fails (mTLS for visitors).
Result<void> require_client_certificate(SSL* ssl, std::string_view ca_pem);
// The verified client certificate's subject (RFC 2253 form), "" when none.
std::string client_subject(SSL* ssl);

// Reads a whole (small) file.
Result<std::string> read_text_file(const std::string& path);
// Writes `text` to PATH.tmp with `mode` (independent of the umask), fsyncs, renames over PATH.
Result<void> write_file_atomically(const std::string& path, std::string_view text, unsigned mode);

// The relay's own CA: made once in the data dir (ca-cert.pem 0644, ca-key.pem 0600; EC P-256,
// 10 years), it signs short-lived leaf certificates for names under the relay's --domain
// (`localhost` by default), so `curl --cacert ca-cert.pem` and a browser that was told to trust
// it see valid certificates for NAME.localhost without any wildcard rules.
class LocalCa {
 public:
  // Loads DIR/ca-cert.pem + DIR/ca-key.pem, creating them the first time.
  static Result<std::shared_ptr<LocalCa>> ensure(const std::string& data_dir);
  ~LocalCa();
  const std::string& cert_pem() const { return cert_pem_; }
  const std::string& cert_file() const { return cert_file_; }
  const std::string& fingerprint() const { return fingerprint_; }
  bool created() const { return created_; }
  // A fresh leaf for `host` (EC P-256, 90 days): chain PEM (leaf + CA) and key PEM.
  struct Leaf {
    std::string chain_pem, key_pem;
  };
  Result<Leaf> issue(const std::string& host) const;

 private:
  LocalCa() = default;
  std::string cert_pem_, cert_file_, fingerprint_;
  bool created_ = false;
  struct Keys;
  std::unique_ptr<Keys> keys_;
};

}  // namespace porthole::net
