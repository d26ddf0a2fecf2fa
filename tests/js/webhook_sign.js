// Signs a webhook the way each provider does, with the provider's own npm library where it has
// a small one: stripe (generateTestHeaderString), @octokit/webhooks-methods (sign),
// standardwebhooks (Webhook.sign), twilio (getExpectedTwilioSignature). Slack and Shopify have
// no small signing helper (their SDKs are whole app frameworks), so their documented
// algorithms are written out here with node:crypto:
//   Slack:   X-Slack-Signature = "v0=" + hex(HMAC-SHA256(secret, "v0:" + ts + ":" + body))
//   Shopify: X-Shopify-Hmac-Sha256 = base64(HMAC-SHA256(secret, body))
// Usage: node webhook_sign.js PROVIDER SECRET BODY URL TIMESTAMP  -> JSON object of headers.
"use strict";
const crypto = require("node:crypto");

async function main() {
  const [provider, secret, body, url, tsText] = process.argv.slice(2);
  const ts = Number(tsText);
  let headers = {};
  if (provider === "stripe") {
    const Stripe = require("stripe");
    const stripe = new Stripe("sk_test_porthole");
    headers["Stripe-Signature"] = stripe.webhooks.generateTestHeaderString({ payload: body, secret, timestamp: ts });
  } else if (provider === "github") {
    const { sign } = await import("@octokit/webhooks-methods");
    headers["X-Hub-Signature-256"] = await sign(secret, body);
  } else if (provider === "standard") {
    const { Webhook } = require("standardwebhooks");
    const id = "msg_porthole_1";
    headers["webhook-id"] = id;
    headers["webhook-timestamp"] = String(ts);
    headers["webhook-signature"] = new Webhook(secret).sign(id, new Date(ts * 1000), body);
  } else if (provider === "twilio") {
    const twilio = require("twilio");
    const params = Object.fromEntries(new URLSearchParams(body));
    headers["X-Twilio-Signature"] = twilio.getExpectedTwilioSignature(secret, url, params);
    headers["Content-Type"] = "application/x-www-form-urlencoded";
  } else if (provider === "slack") {
    headers["X-Slack-Request-Timestamp"] = String(ts);
    headers["X-Slack-Signature"] = "v0=" + crypto.createHmac("sha256", secret).update(`v0:${ts}:${body}`).digest("hex");
  } else if (provider === "shopify") {
    headers["X-Shopify-Hmac-Sha256"] = crypto.createHmac("sha256", secret).update(body).digest("base64");
  } else {
    throw new Error("unknown provider " + provider);
  }
  process.stdout.write(JSON.stringify(headers));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
