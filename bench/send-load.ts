/**
 * The HTTP side of `bench:send`: creating the provider, posting messages to /send/ and to
 * /send/batch/ with many requests in flight, and waiting until the service has marked them sent.
 */
import http from 'node:http';

export const API = '/api/email-provider';
export const ADMIN_KEY = 'bench-admin-key-0123456789abcdef';
const AUTH = { Authorization: `Bearer ${ADMIN_KEY}` };

/** A 512-byte text body, the size the figures were taken with. */
export const TEXT = 'Hello from the throughput benchmark. This paragraph stands for a short transactional email body. '
  .repeat(6)
  .slice(0, 512);

export const messageBody = (i: number) => ({
  to: `user${i}@example.com`,
  subject: `Benchmark message ${i}`,
  text: TEXT,
});

/**
 * Keep-alive connections, one per request in flight. node:http rather than fetch: the load
 * generator shares the machine's cores with the service, and fetch spent about as much CPU per
 * request as the service itself (see BENCHMARKS.md).
 */
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 1024 });

function request(url: string, method: string, body: string | undefined): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const headers: http.OutgoingHttpHeaders = { ...AUTH };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = Buffer.byteLength(body);
    }
    const req = http.request(url, { method, agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

export async function call(url: string, method: string, route: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await request(`${url}${API}${route}`, method, body === undefined ? undefined : JSON.stringify(body));
  const text = res.text;
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = text;
  }
  return { status: res.status, json };
}

/** One SMTP provider pointing at the sink, no limits. */
export async function createProvider(url: string, sinkPort: number): Promise<number> {
  const res = await call(url, 'POST', '/providers/', {
    name: 'bench sink',
    provider_type: 'smtp',
    smtp_host: '127.0.0.1',
    smtp_port: sinkPort,
    smtp_username: '',
    smtp_password: '',
    smtp_use_tls: false,
    smtp_use_ssl: false,
    from_email: 'bench@example.com',
    from_name: 'Bench',
    priority: 1,
    daily_limit: null,
    monthly_limit: null,
    rate_limit_per_minute: null,
  });
  if (res.status !== 201) throw new Error(`provider not created: ${res.status} ${JSON.stringify(res.json)}`);
  return res.json.id;
}

export interface Timing {
  ms: number;
  /** Latency of one request, median and 99th percentile. */
  p50: number;
  p99: number;
}

/**
 * Runs `requests` requests with `clients` in flight, client k talking to urls[k % urls.length]
 * (the load spread evenly over the instances).
 */
async function drive(urls: string[], clients: number, requests: number, one: (url: string, i: number) => Promise<void>): Promise<Timing> {
  let next = 0;
  const latencies: number[] = [];
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, k) => {
      const url = urls[k % urls.length];
      while (next < requests) {
        const i = next++;
        const s = performance.now();
        await one(url, i);
        latencies.push(performance.now() - s);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0;
  return { ms: performance.now() - t0, p50: pct(0.5), p99: pct(0.99) };
}

/** POSTs `n` messages to /send/, numbered from `offset`. */
export function postMessages(urls: string[], clients: number, n: number, offset: number): Promise<Timing> {
  return drive(urls, clients, n, async (url, i) => {
    const res = await call(url, 'POST', '/send/', messageBody(offset + i));
    if (res.status !== 202) throw new Error(`not accepted: ${res.status} ${JSON.stringify(res.json)}`);
  });
}

export const BATCH_ROUTE = '/send/batch/';

/**
 * POSTs one batch of `size` messages numbered from `offset` to /send/batch/; false when the
 * service has no such route (404), and an error unless every message was accepted.
 */
export async function postBatch(url: string, offset: number, size: number): Promise<boolean> {
  const messages = Array.from({ length: size }, (_, i) => messageBody(offset + i));
  const res = await call(url, 'POST', BATCH_ROUTE, { messages });
  if (res.status === 404) return false;
  const results: { index: number; status: number }[] | undefined = res.json?.results;
  const refused = results?.find((r) => r.status !== 202);
  if (res.status !== 200 || res.json?.accepted !== size || refused)
    throw new Error(`batch of ${size} not accepted: ${res.status} ${JSON.stringify(refused ?? res.json).slice(0, 500)}`);
  return true;
}

/** POSTs `n` messages numbered from `offset` in batches of `size`. */
export function postBatches(urls: string[], clients: number, n: number, offset: number, size: number): Promise<Timing> {
  const batches = Math.ceil(n / size);
  return drive(urls, clients, batches, async (url, b) => {
    const count = Math.min(size, n - b * size);
    if (!(await postBatch(url, offset + b * size, count))) throw new Error(`${BATCH_ROUTE} answered 404 in the middle of a run`);
  });
}

/** How many messages the service has marked sent (one count query; slow-ish over a large table). */
export async function sentCount(url: string): Promise<number> {
  const { status, json } = await call(url, 'GET', '/messages/?status=sent&page_size=1');
  if (status !== 200) throw new Error(`GET /messages/ answered ${status}: ${JSON.stringify(json)}`);
  return json.count;
}

/** Waits until `n` messages are marked sent in all (markSent lands a moment after the sink's "250"). */
export async function waitSent(url: string, n: number, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const count = await sentCount(url);
    if (count === n) return;
    if (count > n) throw new Error(`${count} messages marked sent, more than the ${n} expected`);
    if (Date.now() > deadline) throw new Error(`only ${count} of ${n} messages marked sent after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
