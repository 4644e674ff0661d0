import request from 'supertest';
import type { App } from 'supertest/types.js';

/** One sample of the exposition: its metric name, labels and value. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Prometheus's text format, read the way a scraper does; a line it cannot read fails the test. */
export function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(LABEL)) labels[k] = v.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return samples;
}

/** A scrape, with lookups by name and (a subset of) labels. */
export class Scrape {
  constructor(readonly samples: Sample[]) {}

  /** The sample with exactly these labels (undefined: absent). */
  value(name: string, labels: Record<string, string | number> = {}): number | undefined {
    const want = Object.entries(labels).map(([k, v]) => [k, String(v)]);
    const found = this.samples.find(
      (s) => s.name === name && Object.keys(s.labels).length === want.length && want.every(([k, v]) => s.labels[k] === v),
    );
    return found?.value;
  }

  /** The value, 0 when absent (a counter not yet incremented). */
  count(name: string, labels: Record<string, string | number> = {}): number {
    return this.value(name, labels) ?? 0;
  }
}

export async function scrape(server: App, headers: Record<string, string>): Promise<Scrape> {
  const res = await request(server).get('/metrics').set(headers);
  if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}: ${res.text}`);
  return new Scrape(parseExposition(res.text));
}
