// The relay's ACME manager (docs/acme.md): started when acme::effective_directory says so,
// fed the host names of http endpoints as they are bound (Relay::bind), its HTTP-01 board
// answered by the http listener.
#include <spdlog/spdlog.h>

#include "relay/cert_store_sink.hpp"
#include "relay/http_listener.hpp"
#include "relay/relay.hpp"

namespace porthole::relay {

Result<void> Relay::start_acme() {
  const auto directory = acme::effective_directory(cfg_.acme_directory, cfg_.domain);
  if (directory.empty()) return {};
  if (cfg_.acme_challenge == "http-01" && cfg_.http == "off") {
    return make_error("--acme-directory: http-01 needs the --http listener (or set --acme-directory off)");
  }
  if (cfg_.acme_challenge == "tls-alpn-01" && !certs_) {
    return make_error("--acme-directory: tls-alpn-01 needs the --https listener (or use http-01)");
  }
  // Issued certificates are served by the https listener; without one they stay in the data dir.
  if (!cert_sink_ && certs_) cert_sink_ = std::make_unique<CertStoreSink>(certs_);
  if (!cert_sink_) cert_sink_ = std::make_unique<acme::FilesOnlySink>();
  acme::AcmeOptions o;
  o.directory = directory;
  o.email = cfg_.acme_email;
  o.ca_file = cfg_.acme_ca;
  o.data_dir = cfg_.data_dir;
  o.challenge = cfg_.acme_challenge;
  auto m = acme::AcmeManager::create(io_, std::move(o), *cert_sink_);
  if (!m) return make_error("acme: {}", m.error().message);
  acme_ = std::move(*m);
  if (http_) http_->set_acme_board(&acme_->http01());
  acme_->start();
  spdlog::info("acme: certificates for http endpoints from {} ({})", directory, cfg_.acme_challenge);
  return {};
}

}  // namespace porthole::relay
