// Where the ACME manager puts what it obtains, and how challenge responses are published.
// CertificateSink is implemented by whoever serves TLS to visitors (the https listener's
// certificate store); the relay passes it to AcmeManager. Http01Board is the table the http
// listener looks tokens up in (GET /.well-known/acme-challenge/TOKEN). Both are used on the
// relay's io_context thread only.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace porthole::acme {

class CertificateSink {
 public:
  virtual ~CertificateSink() = default;
  // A certificate chain (leaf first, PEM) and its private key (PEM) for `host`: serve it from now on.
  virtual void install(const std::string& host, const std::string& chain_pem, const std::string& key_pem) = 0;
  // TLS-ALPN-01 (RFC 8737): answer a handshake for `host` offering ALPN "acme-tls/1" with this
  // certificate until cleared; other handshakes for `host` are not affected.
  virtual void set_alpn_challenge(const std::string& host, const std::string& cert_pem, const std::string& key_pem) = 0;
  virtual void clear_alpn_challenge(const std::string& host) = 0;
  // Whether set_alpn_challenge reaches a TLS listener (tls-alpn-01 may be chosen only then).
  virtual bool serves_tls_alpn() const { return false; }
};

// A sink for a relay that has no https listener yet: certificates stay in the data dir only.
class FilesOnlySink final : public CertificateSink {
 public:
  void install(const std::string&, const std::string&, const std::string&) override {}
  void set_alpn_challenge(const std::string&, const std::string&, const std::string&) override {}
  void clear_alpn_challenge(const std::string&) override {}
};

class Http01Board {
 public:
  static constexpr std::string_view kPrefix = "/.well-known/acme-challenge/";

  void provide(const std::string& token, const std::string& key_authorization) { answers_[token] = key_authorization; }
  void withdraw(const std::string& token) { answers_.erase(token); }
  void clear() { answers_.clear(); }
  std::size_t size() const { return answers_.size(); }

  // For the http listener, before routing: a complete HTTP/1.1 response when `method` and
  // `target` ask for a pending token, else nullopt (the request is routed as usual).
  std::optional<std::string> response_for(std::string_view method, std::string_view target) const;

 private:
  std::map<std::string, std::string, std::less<>> answers_;
};

}  // namespace porthole::acme
