#!/usr/bin/env node
// A SOCKS5 UDP ASSOCIATE client (npm socks) for tests/integration/test_socks_udp.py.
//
//   node socks_udp_client.js PROXY_PORT '[{"host": H, "port": P, "data": HEX}, ...]' [WAIT_MS]
//
// Asks the SOCKS5 server on 127.0.0.1:PROXY_PORT for a UDP association (the library's
// `associate` command, from a UDP socket bound first so the request names its port), sends each
// datagram through it (SocksClient.createUDPFrame: H an address or a name for the exit to
// resolve), collects the answers for WAIT_MS (default 3000, times PORTHOLE_TIME_SCALE) or until
// as many answers as datagrams arrived, and prints one JSON line
// {"ok": true, "relay": {host, port}, "answers": [{"host", "port", "data": HEX}, ...]}.
'use strict';
const dgram = require('dgram');
const { SocksClient } = require('socks');

const [portArg, sendArg, waitArg] = process.argv.slice(2);
const scale = Number(process.env.PORTHOLE_TIME_SCALE || 1);
const wait = Number(waitArg || 3000) * scale;
const toSend = JSON.parse(sendArg || '[]');

function finish(result, code) {
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exit(code);
}

const udp = dgram.createSocket('udp4');
udp.bind(0, '127.0.0.1', async () => {
  const answers = [];
  let control;
  try {
    const info = await new Promise((resolve, reject) => {
      // createConnection() is for CONNECT only; an association is an instance's 'established'.
      const client = new SocksClient({
        proxy: { host: '127.0.0.1', port: Number(portArg), type: 5 },
        command: 'associate',
        destination: { host: '127.0.0.1', port: udp.address().port },
        timeout: 20000 * scale,
      });
      client.on('established', resolve);
      client.on('error', reject);
      client.connect();
    });
    control = info.socket;
    const relay = info.remoteHost;
    const done = () => {
      control.destroy();
      finish({ ok: true, relay, answers }, 0);
    };
    udp.on('message', (msg) => {
      const f = SocksClient.parseUDPFrame(msg);
      answers.push({ host: f.remoteHost.host, port: f.remoteHost.port, data: f.data.toString('hex') });
      if (answers.length >= toSend.length) done();
    });
    setTimeout(done, wait);
    for (const d of toSend) {
      const frame = SocksClient.createUDPFrame({
        remoteHost: { host: d.host, port: d.port },
        data: Buffer.from(d.data, 'hex'),
      });
      udp.send(frame, relay.port, relay.host);
    }
  } catch (e) {
    if (control) control.destroy();
    finish({ ok: false, error: String(e && e.message || e) }, 1);
  }
});
