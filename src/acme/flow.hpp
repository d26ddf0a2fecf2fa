// One certificate order as a sans-I/O state machine (RFC 8555 7): responses in, requests out.
//   directory → newNonce → newAccount (terms agreed, contact) → newOrder → each authorization →
//   its challenge (http-01 or tls-alpn-01) → poll the authorization (Retry-After honoured) →
//   poll the order until ready → finalize with a CSR → poll until valid → download the chain.
// badNonce is retried with the nonce of the error response; every other error ends the flow
// with a Failure (the problem document parsed, and Retry-After when the CA sent one) that the
// owner (AcmeManager) retries with backoff. Effects tell the owner to start or stop serving a
// challenge response before it sends the next request. No sockets, no clock of its own.
#pragma once

#include <chrono>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "acme/acme_codec.hpp"
#include "acme/crypto.hpp"

namespace porthole::acme {

struct Request {
  std::string method;  // GET, HEAD or POST
  std::string url;
  std::string body;    // a JWS (application/jose+json) for POST
  std::string accept;  // e.g. application/pem-certificate-chain
  // Policy fetches (relay/policy_fetch.cpp): a form POST to an OIDC token endpoint.
  std::string content_type = {};   // POST: "" = application/jose+json
  std::string authorization = {};  // an Authorization header (client_secret_basic)
};

struct Response {
  int status = 0;
  std::string body, content_type, location, replay_nonce, retry_after;
  std::string cache_control = {};  // JWKS fetches (relay/jwks_cache.cpp); "= {}": aggregate inits may omit it
};

struct FlowSettings {
  std::string directory_url;
  std::string email;                 // newAccount contact (mailto:), may be empty
  std::string challenge = "http-01"; // or tls-alpn-01
  std::chrono::seconds poll_min{1}, poll_max{10};
  int max_polls = 120;     // per flow, over every poll
  int max_bad_nonce = 10;  // badNonce retries per request
};

struct Effect {
  enum class Kind { serve_http01, withdraw_http01, serve_tls_alpn01, withdraw_tls_alpn01 };
  Kind kind;
  std::string key;                // the token (http-01) or the host name (tls-alpn-01)
  std::string key_authorization;  // for serve_*
};

struct Failure {
  std::string message;             // one line, names the step and the host
  std::optional<Problem> problem;  // what the CA said, when it said it
  std::optional<std::chrono::seconds> retry_after;
};

struct Action {
  enum class Kind { send, wait, done, failed };
  Kind kind = Kind::send;
  Request request;                  // send
  std::chrono::seconds delay{0};    // wait: call on_timer() after it
  std::string chain_pem;            // done
  Failure failure;                  // failed
  std::vector<Effect> effects;      // apply these first
};

class Flow {
 public:
  // `account_url` empty: the account is looked up / created with newAccount (same key → same
  // account, RFC 8555 7.3). `names`: the dns identifiers of the order.
  Flow(FlowSettings settings, Key account_key, std::string account_url, std::vector<std::string> names,
       Key certificate_key);

  Action start();
  Action on_response(const Response& r, std::time_t now);
  Action on_transport_error(const std::string& message);
  Action on_timer();

  const std::string& account_url() const { return account_url_; }
  const std::string& order_url() const { return order_url_; }
  int bad_nonce_retries() const { return bad_nonce_total_; }
  // The step in progress, for logs and the admin API: "directory", "account", "order",
  // "authorization", "challenge", "finalize", "certificate".
  std::string_view step() const;

 private:
  enum class Stage { directory, nonce, account, new_order, authz, challenge, poll_authz, poll_order, finalize,
                     poll_finalized, certificate, finished };
  struct Pending {
    std::string url;
    std::optional<std::string> payload;
    bool use_jwk = false;
    Stage stage = Stage::directory;
  };

  Action send_signed(Stage stage, std::string url, std::optional<std::string> payload, bool use_jwk = false);
  Action resend();
  Action handle_error(const Response& r, std::time_t now);
  Action handle(const Response& r, std::time_t now);
  Action after_account();
  Action next_authorization();
  Action on_authorization(const Authorization& a, std::time_t now, const Response& r);
  Action on_order(const Order& o, const Response& r, std::time_t now);
  Action finalize();
  Action poll(Stage stage, const std::string& url, const Response& r, std::time_t now);
  Action fail(std::string message, std::optional<Problem> problem = std::nullopt,
              std::optional<std::chrono::seconds> retry_after = std::nullopt);
  Action withdraw_current(Action a);
  std::string host() const { return names_.empty() ? std::string() : names_.front(); }

  FlowSettings settings_;
  Key account_key_, cert_key_;
  std::string account_url_;
  std::vector<std::string> names_;
  Directory directory_;
  std::string nonce_;
  Stage stage_ = Stage::directory;
  Pending pending_;
  int bad_nonce_ = 0, polls_ = 0, bad_nonce_total_ = 0;
  bool account_retried_ = false;
  std::string order_url_;
  Order order_;
  std::size_t authz_index_ = 0;
  std::optional<Effect> serving_;  // the challenge response being served now
  std::string challenge_url_;
};

}  // namespace porthole::acme
