#!/usr/bin/env node
// The inspector page's WebSocket messages in Debian's chromium (playwright-core), for
// tests/integration/test_inspector_page.py.
//
//   node inspector_ws_browser.js INSPECTOR_URL RELAY_HTTP_PORT PUBLIC_HOST SCREENSHOT_DIR
//
// Opens a WebSocket (npm ws) through the tunnel to the echo origin, sends a text message, opens
// the upgraded request on the page (the messages so far are listed, the connection open), sends
// a binary one and presses "Refresh messages", closes, and reads the list again. Prints one JSON
// line of what the page showed; exits 1 with {"ok": false, "error"} on any failure.
'use strict';
const path = require('path');
const WebSocket = require('ws');
const { chromium } = require('playwright-core');

const [inspector, relayPort, publicHost, shots] = process.argv.slice(2);
const scale = Number(process.env.PORTHOLE_TIME_SCALE || 1);
const T = 15000 * scale;

function rows(page) {
  return page.evaluate(() => Array.from(document.querySelectorAll('#d-ws-table tr.ws-msg'),
    (tr) => Array.from(tr.cells, (td) => td.textContent)).map(([from, , type, size, payload]) => ({ from, type, size, payload })));
}

(async () => {
  const deadline = setTimeout(() => { console.log(JSON.stringify({ ok: false, error: 'deadline' })); process.exit(1); }, 60000 * scale);
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  const out = { ok: true, console_errors: [] };
  try {
    const page = await browser.newPage();
    page.on('pageerror', (e) => out.console_errors.push(String(e)));
    page.on('console', (m) => { if (m.type() === 'error') out.console_errors.push(m.text() + ' ' + ((m.location() && m.location().url) || '')); });
    page.on('response', (r) => { if (r.status() >= 400) out.console_errors.push(r.status() + ' ' + r.url()); });
    await page.goto(inspector, { waitUntil: 'load', timeout: T });
    // The live list is subscribed once the status shows online (as in inspector_browser.js).
    await page.waitForFunction(() => document.getElementById('conn').textContent.includes('online'), null, { timeout: T });

    const ws = new WebSocket(`ws://${publicHost}:${relayPort}/chat`, {
      lookup: (host, opts, cb) => (opts && opts.all ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4)),
      perMessageDeflate: false });
    const incoming = [];
    const next = () => new Promise((resolve) => { if (incoming.length) resolve(incoming.shift()); else ws.once('message', () => resolve(incoming.shift())); });
    ws.on('message', (d) => incoming.push(d));
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
    await next();  // the origin's hello
    ws.send('hello from the test');
    await next();

    const rowSel = '#list button[aria-label^="GET /chat, status 101"]';
    await page.waitForSelector(rowSel, { timeout: T });
    await page.click(rowSel);
    await page.waitForSelector('#d-ws-table tr.ws-msg', { timeout: T });
    out.open_summary = await page.textContent('#d-ws-summary');
    out.open_rows = await rows(page);

    ws.send(Buffer.from([0xde, 0xad, 0xbe, 0xef]));
    await next();
    await page.click('#b-ws-refresh');
    await page.waitForFunction((n) => document.querySelectorAll('#d-ws-table tr.ws-msg').length > n, out.open_rows.length, { timeout: T });
    out.refreshed_rows = await rows(page);

    await new Promise((resolve) => { ws.once('close', resolve); ws.close(1000, 'bye'); });
    // The page hears of the end when the request is opened again.
    await page.waitForFunction(async (sel) => {
      document.querySelector(sel).click();
      await new Promise((r) => setTimeout(r, 100));
      const s = document.getElementById('d-ws-summary');
      return s && s.textContent.includes('closed');
    }, rowSel, { timeout: T, polling: 200 });
    out.closed_summary = await page.textContent('#d-ws-summary');
    out.closed_rows = await rows(page);
    out.refresh_button_gone = (await page.locator('#b-ws-refresh').count()) === 0;
    await page.screenshot({ path: path.join(shots, 'inspector-websocket.png'), fullPage: true });
  } finally {
    await browser.close();
    clearTimeout(deadline);
  }
  console.log(JSON.stringify(out));
})().catch((e) => {
  console.log(JSON.stringify({ ok: false, error: String(e && (e.stack || e.message || e)) }));
  process.exit(1);
});
