// AcmeManager: the relay's certificates from an ACME CA (docs/acme.md). It owns the account
// key (data dir, 0600, reused across restarts), one coroutine per host name that orders a
// certificate when none is valid, renews it at two thirds of its lifetime and retries failures
// with exponential backoff (Retry-After honoured; one host's failure never delays another's),
// the HTTP-01 board the http listener answers from, and the HTTPS client. The protocol itself
// is acme::Flow (sans-I/O). stop() cancels every coroutine. One io_context thread.
#pragma once

#include <chrono>
#include <ctime>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "acme/flow.hpp"
#include "acme/https_client.hpp"
#include "acme/sink.hpp"
#include "net/asio.hpp"

namespace porthole::acme {

inline constexpr std::string_view kLetsEncrypt = "https://acme-v02.api.letsencrypt.org/directory";

struct AcmeOptions {
  std::string directory;             // the CA's directory URL
  std::string email;                 // account contact, may be empty
  std::string ca_file;               // trust for the CA's HTTPS (empty: system store)
  std::string data_dir;              // the relay's; files go to DATA/acme/
  std::string challenge = "http-01"; // or tls-alpn-01 (needs a sink that serves_tls_alpn())
  std::chrono::seconds retry_min{60}, retry_max{std::chrono::hours(6)};
  FlowSettings flow;                 // poll settings (directory/email/challenge are filled in)
};

struct CertificateStatus {
  std::string host;
  std::string state;  // ordering | valid | renewing | failed
  std::string step;   // the flow's step while ordering or renewing
  std::time_t not_before = 0, not_after = 0, renew_at = 0, next_attempt = 0;
  int failures = 0;   // consecutive
  std::string error;  // the last failure, one line
  std::optional<Problem> problem;
};

class AcmeManager : public std::enable_shared_from_this<AcmeManager> {
 public:
  // Loads (or creates) the account key and the certificates already in DATA/acme/ (each
  // installed into `sink` and scheduled for renewal). `sink` must outlive the manager.
  static Result<std::shared_ptr<AcmeManager>> create(net::asio::io_context& io, AcmeOptions options,
                                                     CertificateSink& sink);
  ~AcmeManager();

  void start();  // starts the coroutines of the hosts loaded from disk
  // A host that should have a certificate: orders one unless it has a valid one or an order
  // is under way. Names ACME cannot issue for (see eligible_name) are ignored.
  void want(const std::string& host);
  // Renews (or retries) `host` now; false when the host is not managed.
  bool renew_now(const std::string& host);
  // Cancels every coroutine; after it the manager touches neither the sink nor the network.
  void stop();

  std::vector<CertificateStatus> status() const;
  const Http01Board& http01() const { return board_; }
  const std::string& directory() const { return opts_.directory; }

 private:
  struct Host;
  AcmeManager(net::asio::io_context& io, AcmeOptions options, CertificateSink& sink, Key account, HttpsClient client);
  void launch(const std::shared_ptr<Host>& h);
  net::Task<void> run(std::shared_ptr<Host> h);
  net::Task<Result<std::string>> issue(Host& h, const Key& cert_key);  // the chain PEM
  void apply(const std::vector<Effect>& effects);
  void save_account() const;
  Result<void> save_certificate(const std::string& host, const std::string& chain, const std::string& key) const;
  void load_certificates();

  net::asio::io_context& io_;
  AcmeOptions opts_;
  CertificateSink& sink_;
  Key account_;
  std::string account_url_;
  HttpsClient client_;
  Http01Board board_;
  std::map<std::string, std::shared_ptr<Host>> hosts_;
  bool started_ = false, stopping_ = false;
};

// Whether ACME can issue a certificate for `host`: a DNS name with a dot, not a wildcard
// (that needs dns-01), not localhost or under .localhost, not an IP address.
bool eligible_name(std::string_view host);

// The directory URL ACME uses, or "" when ACME is off: `configured` "off" → off; a URL → it;
// "" → Let's Encrypt when `domain` is a public name (eligible_name), else off.
std::string effective_directory(std::string_view configured, std::string_view domain);

// "2026-12-01T22:00:00Z" (UTC, for logs and the admin API).
std::string format_time(std::time_t t);

// Two thirds of the way from not_before to not_after.
std::time_t renewal_time(std::time_t not_before, std::time_t not_after);
// min(max, min * 2^(failures-1)), at least `retry_after`.
std::chrono::seconds retry_delay(int failures, std::chrono::seconds min, std::chrono::seconds max,
                                 std::optional<std::chrono::seconds> retry_after);

}  // namespace porthole::acme
