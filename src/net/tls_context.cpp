#include "net/tls_context.hpp"

#include <arpa/inet.h>

#include <cstring>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "core/address.hpp"
#include "core/encoding.hpp"
#include "core/metrics.hpp"
#include "net/known_relays.hpp"
#include "net/tls_socket.hpp"

namespace porthole::net {
namespace ssl = boost::asio::ssl;

namespace {

metrics::Counter& identity_errors(std::string_view reason) {
  return metrics::counter(fmt::format("porthole_relay_identity_errors_total{{reason=\"{}\"}}", reason),
                          "Relay certificates rejected by the agent");
}

void tls13_only(SSL_CTX* native) {
  SSL_CTX_set_min_proto_version(native, TLS1_3_VERSION);
  SSL_CTX_set_max_proto_version(native, TLS1_3_VERSION);
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET);
}

Result<std::shared_ptr<ssl::context>> new_context(ssl::context::method method) {
  try {
    return std::make_shared<ssl::context>(method);
  } catch (const std::exception& e) {
    return make_error("cannot create TLS context: {}", e.what());
  }
}

bool is_ip_literal(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

}  // namespace

Result<std::shared_ptr<ssl::context>> make_server_context(const ServerIdentity& identity) {
  auto ctx = new_context(ssl::context::tls_server);
  if (!ctx) return ctx.error();
  SSL_CTX* native = (*ctx)->native_handle();
  tls13_only(native);
  SSL_CTX_set_num_tickets(native, 0);
  SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_OFF);
  boost::system::error_code ec;
  (*ctx)->use_certificate_chain_file(identity.cert_file, ec);
  if (ec) return make_error("{}: cannot load certificate: {}", identity.cert_file, ec.message());
  (*ctx)->use_private_key_file(identity.key_file, ssl::context::pem, ec);
  if (ec) return make_error("{}: cannot load private key: {}", identity.key_file, ec.message());
  if (SSL_CTX_check_private_key(native) != 1) {
    return make_error("{} does not match the certificate in {}", identity.key_file, identity.cert_file);
  }
  return ctx;
}

Result<std::shared_ptr<ssl::context>> make_client_context(const RelayTrust& trust) {
  if (!trust.fingerprint.empty()) {
    if (auto fp = encoding::normalize_sha256_fingerprint(trust.fingerprint); !fp) {
      return make_error("--relay-fingerprint: {}", fp.error().message);
    }
  }
  auto ctx = new_context(ssl::context::tls_client);
  if (!ctx) return ctx.error();
  SSL_CTX* native = (*ctx)->native_handle();
  tls13_only(native);
  boost::system::error_code ec;
  if (!trust.ca_file.empty()) {
    (*ctx)->load_verify_file(trust.ca_file, ec);
    if (ec) return make_error("--relay-ca {}: cannot load CA certificates: {}", trust.ca_file, ec.message());
    (*ctx)->set_verify_mode(ssl::verify_peer, ec);
  } else {
    // Checked after the handshake against the pin or the known-relays file.
    (*ctx)->set_verify_mode(ssl::verify_none, ec);
  }
  if (ec) return make_error("cannot set TLS verify mode: {}", ec.message());
  return ctx;
}

Result<void> prepare_client_ssl(SSL* ssl, const RelayTrust& trust) {
  auto hp = parse_host_port(trust.relay_address, "");
  if (!hp) return make_error("relay address: {}", hp.error().message);
  const bool ip = is_ip_literal(hp->host);
  if (!ip && SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                      const_cast<char*>(hp->host.c_str())) != 1) {
    return make_error("cannot set TLS server name '{}': {}", hp->host, openssl_error_text());
  }
  if (trust.ca_file.empty()) return {};
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, hp->host.c_str()) : SSL_set1_host(ssl, hp->host.c_str());
  if (ok != 1)
    return make_error("cannot set the expected relay name '{}': {}", hp->host, openssl_error_text());
  return {};
}

Result<void> verify_relay_certificate(SSL* ssl, const RelayTrust& trust) {
  X509* peer = SSL_get0_peer_certificate(ssl);
  if (peer == nullptr) {
    identity_errors("no_certificate").inc();
    return make_error("relay {} presented no certificate", trust.relay_address);
  }
  const std::string presented = certificate_fingerprint(peer);
  if (!trust.fingerprint.empty()) {
    auto want = encoding::normalize_sha256_fingerprint(trust.fingerprint);
    if (!want) return make_error("--relay-fingerprint: {}", want.error().message);
    if (*want != presented) {
      identity_errors("pin_mismatch").inc();
      return make_error(
          "relay {} presented certificate {} but --relay-fingerprint is {}: refusing to connect "
          "(wrong relay, replaced certificate, or a man-in-the-middle)",
          trust.relay_address, encoding::display_fingerprint(presented),
          encoding::display_fingerprint(*want));
    }
  }
  if (!trust.ca_file.empty()) {
    long v = SSL_get_verify_result(ssl);
    if (v != X509_V_OK) {
      identity_errors("ca_verify").inc();
      return make_error("relay {} certificate is not trusted by --relay-ca {}: {}", trust.relay_address,
                        trust.ca_file, X509_verify_cert_error_string(v));
    }
    return {};
  }
  if (!trust.fingerprint.empty()) return {};
  auto r = check_known_relay(trust.known_relays_file, trust.relay_address, presented);
  if (!r) return r.error();
  return {};
}

Result<std::shared_ptr<ssl::context>> make_upstream_context(bool insecure) {
  auto ctx = new_context(ssl::context::tls_client);
  if (!ctx) return ctx.error();
  SSL_CTX* native = (*ctx)->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  // A service that closes without close_notify (Python's ssl, many dev servers) ends its data
  // there, as nginx and HAProxy take it: HTTP framing still catches a truncated length-delimited
  // or chunked body, and a close-delimited one is never more than that with plain TCP either.
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
  static constexpr unsigned char kAlpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  if (SSL_CTX_set_alpn_protos(native, kAlpn, sizeof kAlpn) != 0) {  // 0 is success here
    return make_error("cannot set TLS ALPN: {}", openssl_error_text());
  }
  if (insecure) {
    SSL_CTX_set_verify(native, SSL_VERIFY_NONE, nullptr);
    return ctx;
  }
  if (SSL_CTX_set_default_verify_paths(native) != 1) {
    return make_error("cannot load the system CA certificates: {}", openssl_error_text());
  }
  SSL_CTX_set_verify(native, SSL_VERIFY_PEER, nullptr);
  return ctx;
}

Result<void> prepare_upstream_ssl(SSL* ssl, const std::string& host, bool verify) {
  const bool ip = is_ip_literal(host);
  if (!ip && SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                      const_cast<char*>(host.c_str())) != 1) {
    return make_error("cannot set TLS server name '{}': {}", host, openssl_error_text());
  }
  if (!verify) return {};
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  const int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) : SSL_set1_host(ssl, host.c_str());
  if (ok != 1) return make_error("cannot set the expected name '{}': {}", host, openssl_error_text());
  return {};
}

std::string upstream_verify_failure(SSL* ssl) {
  if (SSL_get_verify_mode(ssl) == SSL_VERIFY_NONE) return {};
  const long v = SSL_get_verify_result(ssl);
  if (v == X509_V_OK) return {};
  return fmt::format("certificate verify failed: {}", X509_verify_cert_error_string(v));
}

Result<std::vector<std::uint8_t>> channel_binding(SSL* ssl) {
  if (SSL_is_init_finished(ssl) != 1) return make_error("channel binding: TLS handshake not finished");
  if (SSL_version(ssl) != TLS1_3_VERSION) return make_error("channel binding: TLS 1.3 required");
  std::vector<std::uint8_t> out(kChannelBindingLength);
  if (SSL_export_keying_material(ssl, out.data(), out.size(), kChannelBindingLabel,
                                 std::strlen(kChannelBindingLabel), nullptr, 0, 0) != 1) {
    return make_error("channel binding: TLS exporter failed: {}", openssl_error_text());
  }
  return out;
}

std::string certificate_fingerprint(X509* cert) {
  if (cert == nullptr) return {};
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  if (X509_digest(cert, EVP_sha256(), md, &len) != 1) return {};
  return encoding::hex_encode(std::span<const std::uint8_t>(md, len));
}

}  // namespace porthole::net
