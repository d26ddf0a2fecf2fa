#!/usr/bin/env node
// The inspector page in Debian's chromium (playwright-core, no browser download), for
// tests/integration/test_inspector_page.py.
//
//   node inspector_browser.js INSPECTOR_URL RELAY_HTTP_PORT PUBLIC_HOST SCREENSHOT_DIR
//
// Loads the page with every request outside the inspector's origin blocked (it must work
// offline), sends a webhook-like POST through the tunnel and waits for it to appear live,
// opens it, replays it, edits and replays it, exports HAR (the file the browser downloads),
// checks labels, and takes screenshots (desktop and phone). Prints one JSON line of what it
// saw; exits 1 with {"ok": false, "error"} on any failure. 60 s deadline (x PORTHOLE_TIME_SCALE).
'use strict';
const fs = require('fs');
const http = require('http');
const path = require('path');
const { chromium } = require('playwright-core');

const [inspector, relayPort, publicHost, shots] = process.argv.slice(2);
const scale = Number(process.env.PORTHOLE_TIME_SCALE || 1);
const T = 15000 * scale;

function visit(method, target, body, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: Number(relayPort), method, path: target,
      headers: Object.assign({ Host: `${publicHost}:${relayPort}` }, headers || {}) }, (res) => {
      let data = ''; res.on('data', (d) => { data += d; }); res.on('end', () => resolve({ status: res.statusCode, body: data }));
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

(async () => {
  const deadline = setTimeout(() => { console.log(JSON.stringify({ ok: false, error: 'deadline' })); process.exit(1); }, 60000 * scale);
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  const out = { ok: true, blocked: [], console_errors: [] };
  try {
    const context = await browser.newContext({ acceptDownloads: true });
    const page = await context.newPage();
    const origin = new URL(inspector).origin;
    await page.route('**/*', (route) => {
      const u = route.request().url();
      if (u.startsWith(origin + '/') || u.startsWith('blob:') || u.startsWith('data:')) return route.continue();
      out.blocked.push(u);
      return route.abort();
    });
    page.on('console', (m) => { if (m.type() === 'error') out.console_errors.push(m.text()); });
    page.on('pageerror', (e) => out.console_errors.push(String(e)));
    await page.goto(inspector, { waitUntil: 'load', timeout: T });
    out.title = await page.title();
    await page.waitForFunction(() => document.getElementById('conn').textContent.includes('online'), null, { timeout: T });

    // A request through the tunnel appears live.
    const sent = await visit('POST', '/hook?source=test', JSON.stringify({ event: 'charge.succeeded', amount: 42 }),
      { 'Content-Type': 'application/json', 'X-Webhook-Id': 'w1' });
    out.visit_status = sent.status;
    const rowSel = '#list button[aria-label^="POST /hook?source=test"]';
    await page.waitForSelector(rowSel, { timeout: T });
    await page.click(rowSel);
    await page.waitForSelector('#d-title', { timeout: T });
    out.detail_title = await page.textContent('#d-title');
    out.pretty_json = (await page.locator('#detail pre:not(#d-curl)').first().textContent()).includes('"amount": 42');

    // Replay: a second exchange appears, marked as a replay.
    await page.click('#b-replay');
    await page.waitForFunction(() => document.getElementById('d-msg').textContent.startsWith('Replayed'), null, { timeout: T });
    await page.waitForSelector('#list button[aria-label$=", replay"]', { timeout: T });

    // Edit and replay with another body.
    await page.click('#b-edit');
    await page.fill('#e-body', '{"edited":true}');
    await page.fill('#e-uri', '/hook?source=edited');
    await page.click('#e-send');
    await page.waitForFunction(() => document.getElementById('d-msg').textContent.startsWith('Replayed'), null, { timeout: T });
    await page.waitForSelector('#list button[aria-label^="POST /hook?source=edited"]', { timeout: T });

    // Filters: by path and by status.
    await page.fill('#f-path', 'edited');
    out.filtered_rows = await page.locator('#list button').count();
    await page.fill('#f-path', '');
    await page.fill('#f-status', '>=500');
    out.filtered_5xx = await page.locator('#list button').count();
    await page.fill('#f-status', '');

    // Copy as curl (the command is shown too).
    await page.click(rowSel);
    await page.waitForSelector('#b-curl', { timeout: T });
    await page.click('#b-curl');
    out.curl = await page.textContent('#d-curl');

    // HAR: the file the browser downloads.
    const [download] = await Promise.all([page.waitForEvent('download', { timeout: T }), page.click('#har')]);
    const harPath = path.join(shots, 'inspector-export.har');
    await download.saveAs(harPath);
    const har = JSON.parse(fs.readFileSync(harPath, 'utf8'));
    out.har = { version: har.log.version, creator: har.log.creator.name,
      entries: har.log.entries.map((e) => ({ method: e.request.method, url: e.request.url, status: e.response.status,
        post: e.request.postData && e.request.postData.text, time_ok: typeof e.time === 'number' && e.time >= 0,
        started_ok: !Number.isNaN(Date.parse(e.startedDateTime)) })) };

    // Every form control has a label; the list is reachable by keyboard.
    out.unlabelled = await page.evaluate(() => Array.from(document.querySelectorAll('input, select, textarea'))
      .filter((c) => !c.closest('label') && !c.getAttribute('aria-label') && !(c.id && document.querySelector(`label[for="${c.id}"]`)))
      .map((c) => c.id || c.name));
    await page.focus('#list button');
    await page.keyboard.press('ArrowDown');
    out.keyboard_moved = await page.evaluate(() => document.activeElement.dataset.id !== document.querySelector('#list button').dataset.id);

    fs.mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: path.join(shots, 'inspector-requests.png'), fullPage: true });
    await page.click('#tab-status');
    await page.waitForFunction(() => document.querySelectorAll('#tunnels tbody tr').length > 0, null, { timeout: T });
    out.status_rows = await page.locator('#tunnels tbody tr').count();
    await page.screenshot({ path: path.join(shots, 'inspector-status.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.click('#tab-requests');
    await page.screenshot({ path: path.join(shots, 'inspector-phone.png'), fullPage: true });
    out.phone_overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
  } finally {
    await browser.close();
    clearTimeout(deadline);
  }
  console.log(JSON.stringify(out));
})().catch((e) => {
  console.log(JSON.stringify({ ok: false, error: String(e && (e.stack || e.message || e)) }));
  process.exit(1);
});
