// Signs a webhook the way each provider does, with the provider's own npm library: stripe
// (generateTestHeaderString), @octokit/webhooks-methods (sign), standardwebhooks (Webhook.sign),
// twilio (getExpectedTwilioSignature). Slack's and Shopify's SDKs only verify (they are the
// receiving side), so for them the documented algorithm signs here with node:crypto —
//   Slack:   X-Slack-Signature = "v0=" + hex(HMAC-SHA256(secret, "v0:" + ts + ":" + body))
//   Shopify: X-Shopify-Hmac-Sha256 = base64(HMAC-SHA256(secret, body))
// — and the provider's own verifier must accept it before it is used: @slack/bolt's
// verifySlackRequest, @shopify/shopify-api's webhooks.validate. (A tampered body is checked to
// be refused by them too, so the cross-check cannot pass by accident.)
// Usage: node webhook_sign.js PROVIDER SECRET BODY URL TIMESTAMP  -> JSON object of headers.
"use strict";
const crypto = require("node:crypto");

// @slack/bolt's verifySlackRequest throws unless the signature holds (it checks the timestamp
// against the clock: an expired test case is signed for an old time, so it is only refused).
async function slackAccepts(secret, body, headers, ts) {
  const { verifySlackRequest } = require("@slack/bolt");
  const h = { "x-slack-signature": headers["X-Slack-Signature"], "x-slack-request-timestamp": ts };
  const fresh = Math.abs(Date.now() / 1000 - ts) < 300;
  let refusedTampered = false;
  try {
    verifySlackRequest({ signingSecret: secret, body: body + " ", headers: h });
  } catch {
    refusedTampered = true;
  }
  if (!refusedTampered) throw new Error("@slack/bolt accepted a tampered body");
  if (fresh) verifySlackRequest({ signingSecret: secret, body, headers: h });
}

async function shopifyAccepts(secret, body, headers) {
  require("@shopify/shopify-api/adapters/node");
  const { shopifyApi, LATEST_API_VERSION, LogSeverity } = require("@shopify/shopify-api");
  const http = require("node:http");
  headers["X-Shopify-API-Version"] = LATEST_API_VERSION;
  const shopify = shopifyApi({
    apiKey: "porthole", apiSecretKey: secret, scopes: [], hostName: "localhost",
    apiVersion: LATEST_API_VERSION, isEmbeddedApp: false, logger: { level: LogSeverity.Error },
  });
  const check = async (raw) => {
    const req = new http.IncomingMessage(null);
    req.headers = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
    req.method = "POST";
    req.url = "/";
    return shopify.webhooks.validate({ rawBody: raw, rawRequest: req, rawResponse: new http.ServerResponse(req) });
  };
  const good = await check(body);
  if (!good.valid) throw new Error("@shopify/shopify-api refused the signature: " + JSON.stringify(good));
  if ((await check(body + " ")).valid) throw new Error("@shopify/shopify-api accepted a tampered body");
}

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
    await slackAccepts(secret, body, headers, ts);
  } else if (provider === "shopify") {
    headers["X-Shopify-Hmac-Sha256"] = crypto.createHmac("sha256", secret).update(body).digest("base64");
    headers["X-Shopify-Topic"] = "orders/create";
    headers["X-Shopify-Shop-Domain"] = "porthole.myshopify.com";
    headers["X-Shopify-Webhook-Id"] = "wh_porthole_1";
    await shopifyAccepts(secret, body, headers);
  } else {
    throw new Error("unknown provider " + provider);
  }
  process.stdout.write(JSON.stringify(headers));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
