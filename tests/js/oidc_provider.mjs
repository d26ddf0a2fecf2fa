// A real OpenID Connect provider for tests/integration/test_policy_oidc.py: npm
// `oauth2-mock-server` over HTTPS on loopback (authorize redirects straight back with a code;
// the token endpoint checks PKCE and signs an RS256 ID token with the nonce). Lines on stdin
// steer the next ID tokens: "user EMAIL VERIFIED" (true/false), "mode NAME" (ok, wrong_aud,
// wrong_iss, expired, bad_nonce); each is answered "ok". Prints "ISSUER <url>" when listening.
// Usage: node oidc_provider.mjs KEY CERT
import { createInterface } from "node:readline";
import { OAuth2Server } from "oauth2-mock-server";

const [key, cert] = process.argv.slice(2);
const server = new OAuth2Server(key, cert);
await server.issuer.keys.generate("RS256");
let mode = "ok";
let email = "alice@example.com";
let verified = true;
let tokens = 0;
server.service.on("beforeTokenSigning", (token) => {
  if (token.payload.aud === undefined) return;  // the access token
  tokens++;
  token.payload.email = email;
  token.payload.email_verified = verified;
  const now = Math.floor(Date.now() / 1000);
  if (mode === "wrong_aud") token.payload.aud = "another-client";
  if (mode === "wrong_iss") token.payload.iss = "https://evil.example";
  if (mode === "expired") {
    token.payload.iat = now - 7200;
    token.payload.exp = now - 3600;
  }
  if (mode === "bad_nonce") token.payload.nonce = "not-the-nonce";
});
await server.start(0, "127.0.0.1");
server.issuer.url = `https://127.0.0.1:${server.address().port}`;
console.log(`ISSUER ${server.issuer.url}`);
const rl = createInterface({ input: process.stdin });
rl.on("line", (line) => {
  const [cmd, a, b] = line.trim().split(/\s+/);
  if (cmd === "mode") mode = a;
  if (cmd === "user") {
    email = a;
    verified = b !== "false";
  }
  if (cmd === "tokens") {
    console.log(`tokens ${tokens}`);
    return;
  }
  console.log("ok");
});
rl.on("close", async () => {
  await server.stop();
  process.exit(0);
});
