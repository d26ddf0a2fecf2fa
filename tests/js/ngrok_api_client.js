#!/usr/bin/env node
// ngrok's own agent-API client (npm `ngrok`, its NgrokClient; installed with --ignore-scripts,
// so no ngrok binary) against porthole's agent API, for tests/integration/test_inspect.py.
//
//   node ngrok_api_client.js http://127.0.0.1:PORT ORIGIN_PORT
//
// Lists tunnels and requests, reads one request's detail, replays it, starts and stops a
// tunnel, deletes the captures; prints one JSON line of what it saw and exits 0, or
// {"ok": false, "error": "..."} and exits 1.
'use strict';
const { NgrokClient } = require('ngrok');

const [api, originPort] = process.argv.slice(2);

(async () => {
  const c = new NgrokClient(api);
  const out = { ok: true };
  const tunnels = await c.listTunnels();
  out.tunnels = tunnels.tunnels.map((t) => ({ name: t.name, public_url: t.public_url, proto: t.proto,
    addr: t.config.addr, http_count: t.metrics.http.count }));
  out.detail = (await c.tunnelDetail(tunnels.tunnels[0].name)).name;
  const reqs = await c.listRequests({ limit: 10, tunnel_name: tunnels.tunnels[0].name });
  out.requests = reqs.requests.map((r) => ({ id: r.id, method: r.request.method, uri: r.request.uri,
    status_code: r.response && r.response.status_code }));
  const first = reqs.requests[reqs.requests.length - 1];
  out.request_detail = (await c.requestDetail(first.id)).request.uri;
  out.replayed = await c.replayRequest(first.id, tunnels.tunnels[0].name);
  const started = await c.startTunnel({ name: 'from-ngrok-client', proto: 'http', addr: originPort });
  out.started = { name: started.name, public_url: started.public_url };
  out.stopped = await c.stopTunnel('from-ngrok-client');
  out.deleted = await c.deleteAllRequests();
  try {
    await c.tunnelDetail('no-such-tunnel');
    out.missing = 'found?';
  } catch (e) {
    out.missing = { name: e.name, status: e.response && e.response.statusCode, msg: e.message };
  }
  console.log(JSON.stringify(out));
})().catch((e) => {
  console.log(JSON.stringify({ ok: false, error: String(e && (e.stack || e.message || e)) }));
  process.exit(1);
});
