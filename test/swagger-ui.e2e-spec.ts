import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { startApp, type TestApp } from './support/app.js';

/** Debian's chromium package; CI installs it (.ci/run). A browser is never downloaded. */
const CHROMIUM = '/usr/bin/chromium';

/**
 * Swagger UI in a real browser under the service's Content-Security-Policy: a policy too strict
 * for it shows as violations in the console and an empty page, which header checks cannot see.
 */
describe('Swagger UI in a browser', () => {
  let t: TestApp;
  let context: BrowserContext;
  let userDataDir: string;
  let baseUrl: string;

  beforeAll(async () => {
    if (!fs.existsSync(CHROMIUM))
      throw new Error(`${CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium) to run this test.`);
    t = await startApp();
    await t.app.listen(0, '127.0.0.1');
    baseUrl = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
    userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ept-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  }, 60_000);
  afterAll(async () => {
    await context?.close();
    await t?.close();
    if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
  });

  it('should render the operations with no Content-Security-Policy violation', async () => {
    const page = await context.newPage();
    const consoleErrors: string[] = [];
    const pageErrors: string[] = [];
    const failedRequests: string[] = [];
    page.on('console', (msg) => {
      if (msg.type() === 'error' || /Content Security Policy/i.test(msg.text())) consoleErrors.push(msg.text());
    });
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('requestfailed', (req) => failedRequests.push(`${req.url()} ${req.failure()?.errorText ?? ''}`));
    // The browser's own report of each blocked script, style, image or connection.
    await page.addInitScript({
      content:
        'window.cspViolations = [];' +
        "document.addEventListener('securitypolicyviolation', (e) => window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));",
    });

    const res = await page.goto(`${baseUrl}/api/docs`, { waitUntil: 'load' });
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-security-policy']).toBeDefined();
    await page.waitForSelector('.opblock', { timeout: 30_000 });
    await page.waitForLoadState('networkidle');

    const paths = await page.locator('.opblock-summary-path').allTextContents();
    expect(paths).toEqual(expect.arrayContaining(['/api/email-provider/send', '/api/email-provider/providers', '/health/live']));
    expect(await page.locator('.information-container .title').textContent()).toMatch(/Email provider service/);
    // The Authorize button is how users give their key: it must work under the policy too.
    await page.locator('button.authorize').click();
    await page.waitForSelector('.modal-ux input[type=text]', { timeout: 10_000 });
    await page.locator('.modal-ux button.close-modal').click();
    // "Try it out" calls the API from the page, which the policy's connect-src must allow.
    const live = page.locator('.opblock').filter({ has: page.locator('.opblock-summary-path', { hasText: /^\/health\/live$/ }) });
    await live.locator('.opblock-summary').click();
    await live.locator('button.try-out__btn').click();
    await live.locator('button.execute').click();
    const status = live.locator('.live-responses-table tr.response .response-col_status').first();
    await status.waitFor({ timeout: 10_000 });
    expect((await status.textContent())?.trim()).toBe('200');

    const violations = (await page.evaluate('window.cspViolations')) as string[];
    expect({ violations, consoleErrors, pageErrors, failedRequests }).toEqual({
      violations: [],
      consoleErrors: [],
      pageErrors: [],
      failedRequests: [],
    });
  }, 90_000);
});
