// The relay's shared HTTPS listener (--https, default 0.0.0.0:8443): the visitor pipeline for TLS.
//   accept → PROXY step (a peer in --accept-proxy-protocol-from: its header first, read here;
//   from anyone else a PROXY header is not TLS and refused like any non-TLS bytes) → sniff the ClientHello (proto/tls_hello.hpp, within the handshake deadline) → route
//   by SNI (the registry's route table) →
//     terminated (http endpoint): TLS with the CertStore's certificate for that name, then the
//       HTTP listener's own per-connection serving over the TLS stream (X-Forwarded-Proto https,
//       421 for a Host other than the SNI, mTLS subject header, HSTS);
//     passthrough (tls endpoint, or http --terminate-at agent): the bytes as they came, the
//       ClientHello included, to the agent over one mux stream; the relay decrypts nothing;
//     acme-tls/1 (RFC 8737): the challenge certificate, then close.
// An unknown or missing SNI gets the unrecognized_name alert, never another host's certificate.
// Bad input (not TLS, SSLv2, oversized records, malformed hellos, stalls) gets an alert or a
// close and a counter by reason (porthole_relay_tls_rejects_total{reason}). Handshakes in
// progress are capped overall and per address; at a cap the oldest is dropped, so stalled
// handshakes cannot lock out new visitors.
#pragma once

#include <list>
#include <memory>
#include <string>
#include <unordered_map>

#include "config/model.hpp"
#include "net/asio.hpp"
#include "relay/cert_store.hpp"
#include "relay/http_listener.hpp"
#include "relay/proxy_sniff.hpp"
#include "relay/listen_port.hpp"
#include "relay/registry.hpp"

namespace porthole::relay {

class HttpsListener : public std::enable_shared_from_this<HttpsListener> {
 public:
  HttpsListener(net::asio::io_context& io, const config::RelayConfig& cfg, EndpointRegistry& registry,
                std::shared_ptr<CertStore> certs, std::shared_ptr<HttpListener> http);
  ~HttpsListener();

  // Binds and starts accepting; the error names a bad --accept-proxy-protocol-from CIDR too.
  Result<void> start(const std::string& address);
  // One accepted visitor connection (ListenPort calls it).
  net::Task<void> serve(net::tcp::socket socket, net::tcp::endpoint peer);
  void stop();
  std::uint16_t port() const;

  static constexpr std::uint32_t kMaxPendingPerIp = 256;

 private:
  struct Pending;
  void admit(Pending& p);
  void leave(Pending& p);

  net::asio::io_context& io_;
  const config::RelayConfig& cfg_;
  EndpointRegistry& registry_;
  std::shared_ptr<CertStore> certs_;
  std::shared_ptr<HttpListener> http_;
  ListenPort listen_;
  std::list<Pending*> pending_;  // handshakes in progress, oldest first
  std::unordered_map<std::string, std::size_t> pending_by_ip_;
};

}  // namespace porthole::relay
