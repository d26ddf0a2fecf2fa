#!/usr/bin/env node
// A WebSocket echo origin for tests/integration/test_http_websocket.py: listens on
// 127.0.0.1:0, prints "listening PORT", echoes every message (text stays text, binary stays
// binary) and answers each upgrade first with one JSON text message describing the upgrade
// request it got ({"hello": true, "url", "headers"}). Exits on SIGTERM or when stdin closes.
'use strict';
const { WebSocketServer } = require('ws');

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 64 << 20 });
wss.on('listening', () => {
  process.stdout.write(`listening ${wss.address().port}\n`);
});
wss.on('connection', (ws, req) => {
  ws.send(JSON.stringify({ hello: true, url: req.url, headers: req.headers }));
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => ws.terminate());
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
process.on('SIGTERM', () => process.exit(0));
