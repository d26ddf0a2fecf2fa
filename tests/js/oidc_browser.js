#!/usr/bin/env node
// The oidc login in Debian's chromium (playwright-core, no browser download), for
// tests/integration/test_policy_oidc.py:
//
//   node oidc_browser.js URL LOGOUT_URL
//
// Opens URL (a page behind the relay's oidc action): the browser follows the real redirect chain
// to the provider and back, and lands on URL with the session cookie set; the cookie's flags
// are read; then LOGOUT_URL clears it and URL sends the browser through the provider again.
// Certificate errors are ignored (the relay's and provider's test CAs are not in chromium's
// store; curl checks them in the same test). Prints one JSON line; 60 s deadline.
'use strict';
const { chromium } = require('playwright-core');

const [url, logout] = process.argv.slice(2);
const scale = Number(process.env.PORTHOLE_TIME_SCALE || 1);

(async () => {
  const deadline = setTimeout(() => { console.log(JSON.stringify({ ok: false, error: 'deadline' })); process.exit(1); }, 60000 * scale);
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  const out = { ok: true, authorize: 0, callback: 0 };
  try {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    page.on('request', (r) => {
      if (r.url().includes('/authorize?')) out.authorize++;
      if (r.url().includes('/.porthole/oidc/callback?')) out.callback++;
    });
    const first = await page.goto(url, { timeout: 15000 * scale });
    out.first_status = first.status();
    out.first_url = page.url();
    out.first_body = await page.textContent('body');
    out.cookies = (await context.cookies()).map((c) => ({ name: c.name, httpOnly: c.httpOnly, secure: c.secure,
      sameSite: c.sameSite, path: c.path, domain: c.domain }));
    // Not followed: "/" is behind the login too, and this provider logs anyone in without asking.
    // From the page (same origin, its cookies): the 302's Set-Cookie applies, the redirect is not followed.
    out.logout_type = await page.evaluate(async (u) => (await fetch(u, { redirect: 'manual' })).type, logout);
    out.after_logout_cookies = (await context.cookies()).map((c) => c.name);
    const again = await page.goto(url, { timeout: 15000 * scale });
    out.again_status = again.status();
    out.again_url = page.url();
  } catch (e) {
    out.ok = false;
    out.error = String(e);
  }
  await browser.close();
  clearTimeout(deadline);
  console.log(JSON.stringify(out));
  process.exit(out.ok ? 0 : 1);
})();
