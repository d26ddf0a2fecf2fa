// Webhook signature checks (verify-webhook): Stripe, GitHub, Slack, Twilio, Shopify, Standard
// Webhooks (Svix) and a generic HMAC. Pure: headers, body, URL and the time in; ok or why not
// out. HMACs by OpenSSL; every comparison of a signature is CRYPTO_memcmp.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace porthole::policy {

struct HeaderRef;

struct WebhookSpec {
  enum class Provider { stripe, github, slack, twilio, shopify, standard, hmac } provider = Provider::hmac;
  std::string secret;              // as the provider shows it (Standard Webhooks: "whsec_BASE64")
  std::int64_t tolerance_s = 300;  // replay window where the provider signs a timestamp
  // generic HMAC
  std::string header;              // the signature's header
  std::string algorithm = "sha256";  // sha1, sha256, sha512
  std::string encoding = "hex";      // hex, base64
  std::string prefix;                // e.g. "sha256=" before the signature
  std::string content = "{body}";    // signed content: {body}, {timestamp}, {url}
  std::string timestamp_header;      // where {timestamp} comes from (and the replay window)
};

// Provider names as written in policies and --verify-webhook.
Result<WebhookSpec::Provider> webhook_provider(std::string_view name);
// Checks the spec's own consistency (the secret's form, the generic HMAC's fields).
Result<void> check_webhook_spec(const WebhookSpec& s);

struct WebhookInput {
  const std::vector<HeaderRef>* headers = nullptr;
  std::string_view body;
  std::string_view url;     // the URL the sender used (Twilio signs it): scheme://host/target
  std::int64_t unix_seconds = 0;
};
struct WebhookResult {
  bool ok = false;
  std::string reason;  // "missing", "bad", "expired" first, then details (never the secret)
  std::string counter; // webhook_missing, webhook_bad, webhook_expired
};
WebhookResult verify_webhook(const WebhookSpec& s, const WebhookInput& in);

}  // namespace porthole::policy
