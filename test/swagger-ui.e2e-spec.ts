import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import request from 'supertest';
import { ADMIN_KEY, API, startApp, type TestApp } from './support/app.js';
import { smtpProviderBody } from './support/factories.js';

/** Debian's chromium package; CI installs it (.ci/run). A browser is never downloaded. */
const CHROMIUM = '/usr/bin/chromium';

/** The operation block of `method` on exactly `path` (without the API prefix when it starts with /api/). */
function operation(page: Page, method: string, path: string): Locator {
  const exact = new RegExp(`^${path.replace(/[{}]/g, '\\$&')}$`);
  return page.locator(`.opblock.opblock-${method}`).filter({ has: page.locator('.opblock-summary-path', { hasText: exact }) });
}

/** Opens Swagger UI unauthorized: it keeps an authorization in localStorage (persistAuthorization), which each test gives itself. */
async function openDocs(page: Page, baseUrl: string): Promise<void> {
  await page.addInitScript({ content: 'localStorage.clear();' });
  await page.goto(`${baseUrl}/api/docs`, { waitUntil: 'load' });
  await page.waitForSelector('.opblock', { timeout: 30_000 });
}

/** Authorize with a key as a user would: the dialog, the key, Authorize, Close. */
async function authorize(page: Page, key: string): Promise<void> {
  await page.locator('.auth-wrapper button.authorize').click();
  await page.locator('.modal-ux input#auth-bearer-value').fill(key);
  await page.locator('.modal-ux .auth-btn-wrapper button.authorize').click();
  await page.locator('.modal-ux button.btn-done').click();
  await page.locator('.modal-ux').waitFor({ state: 'detached' });
}

/** Expands an operation and presses "Try it out", touching nothing else. */
async function tryOut(block: Locator): Promise<void> {
  await block.locator('.opblock-summary').click();
  await block.locator('button.try-out__btn').click();
  await block.locator('button.execute').waitFor();
}

/** Waits until `read` returns `want` (the page updates a moment after an action). */
async function until<T>(read: () => Promise<T>, want: T, timeoutMs = 5_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let got = await read();
  while (got !== want && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 50));
    got = await read();
  }
  return got;
}

/** Presses Execute and returns the status the page shows. */
async function execute(block: Locator): Promise<string> {
  await block.locator('button.execute').click();
  const status = block.locator('.live-responses-table tr.response .response-col_status').first();
  await status.waitFor({ timeout: 15_000 });
  return ((await status.textContent()) ?? '').trim();
}

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

  /** Providers by name, from the API itself. */
  const providers = async () =>
    (await request(t.server).get(`${API}/providers/`).set(t.auth)).body as {
      name: string;
      provider_type: string;
      has_smtp_password: boolean;
    }[];

  it('should list the providers that exist when Execute is pressed on the untouched list form', async () => {
    // Neither would pass the filters the form used to fill in (is_active=true, priority=1, health_status=healthy).
    const made = [smtpProviderBody({ is_active: false }), smtpProviderBody({ priority: 2 })];
    for (const body of made) expect((await request(t.server).post(`${API}/providers/`).set(t.auth).send(body)).status).toBe(201);
    const page = await context.newPage();
    await openDocs(page, baseUrl);
    await authorize(page, ADMIN_KEY);
    const list = operation(page, 'get', `${API}/providers`);
    await tryOut(list);
    const answer = page.waitForResponse((res) => new URL(res.url()).pathname === `${API}/providers` && res.request().method() === 'GET');
    expect(await execute(list)).toBe('200');
    const res = await answer;
    expect(new URL(res.url()).search).toBe('');
    expect(res.request().headers().authorization).toBe(`Bearer ${ADMIN_KEY}`);
    const names = ((await res.json()) as { name: string }[]).map((p) => p.name);
    expect(names).toEqual(expect.arrayContaining(made.map((b) => b.name)));
    // And the page shows them.
    const shown = await list.locator('.live-responses-table .response-col_description .highlight-code').first().textContent();
    for (const body of made) expect(shown).toContain(body.name as string);
    await page.close();
  }, 90_000);

  it('should create a provider from the smtp example of the create form', async () => {
    const page = await context.newPage();
    await openDocs(page, baseUrl);
    await authorize(page, ADMIN_KEY);
    const create = operation(page, 'post', `${API}/providers`);
    await tryOut(create);
    const examples = create.locator('.opblock-section-request-body select.examples-select-element');
    expect(await examples.locator('option').evaluateAll((os) => os.map((o) => (o as unknown as { value: string }).value))).toEqual([
      'smtp',
      'aws_ses',
    ]);
    const body = create.locator('textarea.body-param__text');
    await examples.selectOption('aws_ses');
    const typeIn = async () => (JSON.parse(await body.inputValue()) as { provider_type: string }).provider_type;
    expect(await until(typeIn, 'aws_ses')).toBe('aws_ses');
    await examples.selectOption('smtp');
    expect(await until(typeIn, 'smtp')).toBe('smtp');
    const sent = JSON.parse(await body.inputValue()) as { name: string };
    expect(await execute(create)).toBe('201');
    expect((await providers()).find((p) => p.name === sent.name)).toMatchObject({ provider_type: 'smtp', has_smtp_password: true });
    await page.close();
  }, 90_000);

  it('should pre-fill no path or query parameter on any operation, and send nothing on an untouched DELETE', async () => {
    const page = await context.newPage();
    const mutations: string[] = [];
    page.on('request', (req) => {
      if (req.method() !== 'GET') mutations.push(`${req.method()} ${req.url()}`);
    });
    await openDocs(page, baseUrl);
    await authorize(page, ADMIN_KEY);
    const blocks = page.locator('.opblock');
    const count = await blocks.count();
    expect(count).toBeGreaterThanOrEqual(20);
    const filled: string[] = [];
    const seen: string[] = [];
    let withParams = 0;
    for (let i = 0; i < count; i += 1) {
      const block = blocks.nth(i);
      const name = `${await block.locator('.opblock-summary-method').textContent()} ${await block.locator('.opblock-summary-path').textContent()}`;
      seen.push(name);
      await tryOut(block);
      const fields = block.locator('tr[data-param-in=path], tr[data-param-in=query]').locator('input, select');
      if ((await fields.count()) > 0) withParams += 1;
      for (const value of await fields.evaluateAll((els) => els.map((e) => (e as unknown as { value: string }).value)))
        if (value !== '') filled.push(`${name}: ${value}`);
      // Cancel "Try it out" and collapse, leaving the operation as it was.
      await block.locator('button.try-out__btn').click();
      await block.locator('.opblock-summary').click();
    }
    expect(withParams).toBeGreaterThanOrEqual(15);
    expect(filled).toEqual([]);
    // Each operation once: under two tags, two blocks shared one form's state.
    expect(seen.filter((n, i) => seen.indexOf(n) !== i)).toEqual([]);

    // What deleted provider 1 before: Execute on the untouched DELETE. The form now refuses to send it.
    const before = (await providers()).length;
    const remove = operation(page, 'delete', `${API}/providers/{id}`);
    await tryOut(remove);
    await remove.locator('button.execute').click();
    await remove.locator('tr[data-param-name=id] input.invalid').waitFor({ timeout: 5_000 });
    expect(mutations).toEqual([]);
    expect((await providers()).length).toBe(before);
    await page.close();
  }, 120_000);
});
