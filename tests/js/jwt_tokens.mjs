// Makes keys, JWKS documents and signed tokens with `jose` for tests/integration/test_policy_jwt.py.
// Usage: node jwt_tokens.mjs ISSUER AUDIENCE HS_SECRET  -> one JSON object on stdout:
//   jwks: the published keys (RS256 "rsa1", ES256 "ec1", EdDSA "ed1"),
//   jwks_rotated: the same plus "rsa2", rsa_pem: rsa1's public key (SPKI PEM),
//   tokens: { NAME: compact JWS } for every case the test sends.
import * as jose from "jose";

const [iss, aud, hsSecret] = process.argv.slice(2);
const now = Math.floor(Date.now() / 1000);

async function pair(alg, kid, opts = {}) {
  const { publicKey, privateKey } = await jose.generateKeyPair(alg, { extractable: true, ...opts });
  const jwk = await jose.exportJWK(publicKey);
  return { alg, kid, privateKey, publicKey, jwk: { ...jwk, kid, alg, use: "sig" } };
}

function sign(key, claims, header = {}) {
  return new jose.SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "JWT", ...header })
    .sign(key.privateKey);
}

const base = { iss, aud, sub: "alice", email: "alice@example.com", iat: now, exp: now + 600 };

const rsa1 = await pair("RS256", "rsa1");
const ec1 = await pair("ES256", "ec1");
const ed1 = await pair("EdDSA", "ed1", { crv: "Ed25519" });
const rsa2 = await pair("RS256", "rsa2");
const hidden = await pair("RS256", "never-published");

const tokens = {};
for (const [name, key] of [["rs256", rsa1], ["es256", ec1], ["eddsa", ed1]]) {
  tokens[`${name}_valid`] = await sign(key, base);
  tokens[`${name}_expired`] = await sign(key, { ...base, iat: now - 7200, exp: now - 3600 });
  tokens[`${name}_not_yet`] = await sign(key, { ...base, nbf: now + 3600 });
  tokens[`${name}_wrong_aud`] = await sign(key, { ...base, aud: "someone-else" });
  tokens[`${name}_wrong_iss`] = await sign(key, { ...base, iss: "https://evil.example" });
  // Tampered: the payload swapped for another (sub = admin), the signature kept.
  const [h, , s] = tokens[`${name}_valid`].split(".");
  const forged = Buffer.from(JSON.stringify({ ...base, sub: "admin" })).toString("base64url");
  tokens[`${name}_tampered`] = `${h}.${forged}.${s}`;
}
tokens.rs256_aud_list = await sign(rsa1, { ...base, aud: ["other", aud] });
tokens.rs256_skew_ok = await sign(rsa1, { ...base, exp: now - 20 });  // within the 60 s skew
tokens.rs256_rotated = await sign(rsa2, base);
tokens.rs256_unknown_kid = await sign(hidden, base);
tokens.rs256_no_exp = await sign(rsa1, { iss, aud, sub: "alice" });

const secret = new TextEncoder().encode(hsSecret);
const hs = (claims) => new jose.SignJWT(claims).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(secret);
tokens.hs256_valid = await hs(base);
tokens.hs256_expired = await hs({ ...base, iat: now - 7200, exp: now - 3600 });
tokens.hs256_wrong_aud = await hs({ ...base, aud: "someone-else" });
tokens.hs256_wrong_iss = await hs({ ...base, iss: "https://evil.example" });
tokens.hs256_not_yet = await hs({ ...base, nbf: now + 3600 });
{
  const [h, , s] = tokens.hs256_valid.split(".");
  tokens.hs256_tampered = `${h}.${Buffer.from(JSON.stringify({ ...base, sub: "admin" })).toString("base64url")}.${s}`;
}

// alg none: jose's UnsecuredJWT (header {"alg":"none"}, empty signature).
tokens.none = new jose.UnsecuredJWT(base).encode();
tokens.none_kid = `${Buffer.from(JSON.stringify({ alg: "none", kid: "rsa1" })).toString("base64url")}.${
  tokens.none.split(".")[1]}.`;

// Key confusion: an HS256 token whose HMAC key is rsa1's public key PEM, with rsa1's kid.
const rsaPem = await jose.exportSPKI(rsa1.publicKey);
tokens.hs256_rsa_pem = await new jose.SignJWT(base)
  .setProtectedHeader({ alg: "HS256", kid: "rsa1", typ: "JWT" })
  .sign(new TextEncoder().encode(rsaPem));

const jwks = { keys: [rsa1.jwk, ec1.jwk, ed1.jwk] };
const jwks_rotated = { keys: [rsa1.jwk, ec1.jwk, ed1.jwk, rsa2.jwk] };
process.stdout.write(JSON.stringify({ jwks, jwks_rotated, rsa_pem: rsaPem, tokens }));
