// The ACME manager's certificate sink (acme/sink.hpp) for a relay with an https listener:
// issued certificates and TLS-ALPN-01 challenge certificates go into the CertStore the https
// listener serves from. It shares the store, so it can never outlive it.
#pragma once

#include <memory>
#include <string>

#include <spdlog/spdlog.h>

#include "acme/sink.hpp"
#include "relay/cert_store.hpp"

namespace porthole::relay {

class CertStoreSink final : public acme::CertificateSink {
 public:
  explicit CertStoreSink(std::shared_ptr<CertStore> store) : store_(std::move(store)) {}

  void install(const std::string& host, const std::string& chain_pem, const std::string& key_pem) override {
    if (auto r = store_->install(host, chain_pem, key_pem); !r) {
      spdlog::error("acme: the certificate for {} cannot be served: {}", host, r.error().message);
    }
  }
  void set_alpn_challenge(const std::string& host, const std::string& cert_pem, const std::string& key_pem) override {
    if (auto r = store_->set_alpn_challenge(host, cert_pem, key_pem); !r) {
      spdlog::error("acme: the tls-alpn-01 challenge for {} cannot be served: {}", host, r.error().message);
    }
  }
  void clear_alpn_challenge(const std::string& host) override { store_->clear_alpn_challenge(host); }
  bool serves_tls_alpn() const override { return true; }

 private:
  std::shared_ptr<CertStore> store_;
};

}  // namespace porthole::relay
