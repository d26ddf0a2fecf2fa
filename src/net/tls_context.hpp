// TLS 1.3 contexts for relay and agent, the relay's certificate, and how the agent decides to
// trust a relay (pinned fingerprint, CA, or trust on first use in the known-relays file); the
// agent's client context for https local services.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <boost/asio/ssl/context.hpp>

#include "core/result.hpp"

namespace porthole::net {

struct ServerIdentity {
  std::string cert_file, key_file;
  std::string fingerprint;  // SHA-256 of the DER certificate, 64 lowercase hex characters
  bool created = false;     // true when this call created a new self-signed certificate
};

// Creates `dir` (and its parents) with mode 0700 when missing; fails when it is not a directory.
Result<void> ensure_data_dir(const std::string& dir);

// With an empty cert_file: loads DATA/relay-cert.pem + DATA/relay-key.pem, creating them the
// first time (self-signed EC P-256, 10 years, SAN localhost, 127.0.0.1, ::1 and the host name;
// key 0600, data dir 0700). With cert_file/key_file: loads and checks that pair.
Result<ServerIdentity> ensure_server_identity(const std::string& data_dir, const std::string& cert_file,
                                              const std::string& key_file);

// The relay's context: TLS 1.3 only, no session tickets.
Result<std::shared_ptr<boost::asio::ssl::context>> make_server_context(const ServerIdentity& identity);

struct RelayTrust {
  std::string relay_address;      // HOST:PORT as the user wrote it (used for SNI, host check, TOFU key)
  std::string fingerprint;        // pinned SHA-256 (hex, colons, any case, optional "SHA256:")
  std::string ca_file;            // verify the chain and host name against this CA bundle
  std::string known_relays_file;  // TOFU file; empty = default_known_relays_path()
};

// The agent's context: TLS 1.3 only. With ca_file, OpenSSL verifies the chain during the
// handshake; otherwise the certificate is checked after it by verify_relay_certificate.
Result<std::shared_ptr<boost::asio::ssl::context>> make_client_context(const RelayTrust& trust);

// Per connection, before the handshake: SNI (for host names, not IP literals) and, with
// ca_file, the host name / IP address the certificate must carry.
Result<void> prepare_client_ssl(SSL* ssl, const RelayTrust& trust);

// After the handshake: pinned fingerprint, else CA verification result, else TOFU.
// A pinned fingerprint given together with a CA must satisfy both.
Result<void> verify_relay_certificate(SSL* ssl, const RelayTrust& trust);

// TLS to an http tunnel's local service (--upstream https): TLS 1.2 or later, ALPN http/1.1,
// the system CA store (SSL_CTX_set_default_verify_paths: also SSL_CERT_FILE / SSL_CERT_DIR),
// the certificate verified during the handshake unless `insecure`.
Result<std::shared_ptr<boost::asio::ssl::context>> make_upstream_context(bool insecure);

// Per upstream connection, before the handshake: SNI = `host` (not for IP literals) and, when
// `verify`, the host name or IP address the certificate must carry.
Result<void> prepare_upstream_ssl(SSL* ssl, const std::string& host, bool verify);

// Why a verified upstream handshake failed on the certificate, in OpenSSL's words
// ("certificate verify failed: self-signed certificate"); "" when the certificate passed.
std::string upstream_verify_failure(SSL* ssl);

inline constexpr const char* kChannelBindingLabel = "EXPORTER-porthole-auth";
inline constexpr std::size_t kChannelBindingLength = 32;

// 32 bytes from the TLS exporter (RFC 8446 §7.5), label "EXPORTER-porthole-auth", no context.
// Equal on both ends of one connection, different on every other connection.
Result<std::vector<std::uint8_t>> channel_binding(SSL* ssl);

// SHA-256 of the DER encoding, 64 lowercase hex characters ("" for a null certificate).
std::string certificate_fingerprint(X509* cert);

}  // namespace porthole::net
