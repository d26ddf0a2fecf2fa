#!/usr/bin/env node
// A WebSocket client (npm ws) for tests/integration/test_http_websocket.py.
//
//   node ws_echo_client.js ws://HOST:PORT/PATH [COUNT]
//
// Connects to 127.0.0.1:PORT whatever HOST resolves to (the Host header stays HOST:PORT),
// expects the echo origin's hello first, then sends COUNT (default 50) messages, text and binary,
// of sizes from 0 bytes to 1 MiB, and a ping, and checks that every echo is identical and in
// order. Prints one JSON line {"ok": true, "messages": N, "bytes": B, "hello": {...},
// "pong": true, "closeCode": 1000} and exits 0, or {"ok": false, "error": "..."} and exits 1.
// Gives up after 30 s (times PORTHOLE_TIME_SCALE).
'use strict';
const crypto = require('crypto');
const WebSocket = require('ws');

const [url, countArg] = process.argv.slice(2);
const count = Number(countArg || 50);
const scale = Number(process.env.PORTHOLE_TIME_SCALE || 1);

function finish(result, code) {
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exit(code);
}
const fail = (error) => finish({ ok: false, error: String(error) }, 1);
setTimeout(() => fail('timed out'), 30000 * scale).unref();

const sizes = [0, 1, 125, 126, 127, 65535, 65536, 1 << 20];
const sent = [];
for (let i = 0; i < count; i++) {
  const size = sizes[i % sizes.length];
  if (i % 2 === 1) {
    sent.push({ binary: true, data: crypto.randomBytes(size) });
  } else {
    const tag = `#${String(i).padStart(6, '0')}`;
    sent.push({ binary: false, data: 'x'.repeat(Math.max(0, size - tag.length)) + tag });
  }
}

const ws = new WebSocket(url, {
  // Every host name goes to loopback (glibc does not resolve *.localhost subdomains).
  lookup: (host, opts, cb) =>
    opts && opts.all ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4),
  maxPayload: 64 << 20,
  perMessageDeflate: false,
});

let hello = null;
let received = 0;
let bytes = 0;
let pong = false;
ws.on('unexpected-response', (req, res) => fail(`HTTP ${res.statusCode} instead of 101`));
ws.on('error', (e) => fail(e.message));
ws.on('pong', () => { pong = true; });
ws.on('message', (data, isBinary) => {
  if (hello === null) {
    if (isBinary) return fail('first message is not the hello');
    hello = JSON.parse(data.toString());
    ws.ping('p');
    for (const m of sent) ws.send(m.data, { binary: m.binary });
    return;
  }
  const want = sent[received];
  if (!want) return fail('more echoes than messages');
  if (isBinary !== want.binary) return fail(`message ${received}: binary=${isBinary}, sent binary=${want.binary}`);
  const got = isBinary ? data : data.toString();
  const same = isBinary ? Buffer.compare(got, want.data) === 0 : got === want.data;
  if (!same) return fail(`message ${received}: echo differs (${got.length} vs ${want.data.length} bytes)`);
  bytes += got.length;
  if (++received === sent.length) ws.close(1000, 'done');
});
ws.on('close', (code) => {
  if (received !== sent.length) return fail(`closed (${code}) after ${received} of ${sent.length} echoes`);
  finish({ ok: true, messages: received, bytes, hello, pong, closeCode: code }, 0);
});
