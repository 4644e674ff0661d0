import { describe, expect, it } from '@jest/globals';
import { DatabaseUnavailableError } from '../errors/database-unavailable.js';
import { LogThrottle } from './log-throttle.js';

function throttle(intervalMs = 1000) {
  const lines: { fields: Record<string, unknown>; message: string }[] = [];
  let now = 0;
  const t = new LogThrottle({ error: (fields, message) => lines.push({ fields, message }) }, intervalMs, () => now);
  return { t, lines, advance: (ms: number) => (now += ms) };
}

describe(LogThrottle.name, () => {
  it('should log the first error at once, then once per interval with how many happened since', () => {
    const { t, lines, advance } = throttle();
    const down = () => new DatabaseUnavailableError('could not connect to the database');
    t.error(down(), 'claiming failed');
    for (let i = 0; i < 9; i++) {
      advance(100);
      t.error(down(), 'claiming failed');
    }
    expect(lines.map((l) => l.fields.count)).toEqual([1]);
    advance(150);
    t.error(down(), 'claiming failed');
    expect(lines.map((l) => l.fields.count)).toEqual([1, 10]);
  });

  it('should count different errors, or the same error under another message, apart', () => {
    const { t, lines } = throttle();
    t.error(new DatabaseUnavailableError('could not connect to the database'), 'claiming failed');
    t.error(new DatabaseUnavailableError('the database did not answer within 1500 ms'), 'claiming failed');
    t.error(new DatabaseUnavailableError('could not connect to the database'), 'round failed');
    t.error(new DatabaseUnavailableError('could not connect to the database'), 'claiming failed');
    expect(lines.map((l) => [l.message, l.fields.count])).toEqual([
      ['claiming failed', 1],
      ['claiming failed', 1],
      ['round failed', 1],
    ]);
  });

  it('should leave the stack out for an unavailable database, and keep it for any other error', () => {
    const { t, lines } = throttle();
    t.error(new DatabaseUnavailableError('lost', { cause: Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }) }), 'a');
    t.error(new TypeError('x is undefined'), 'b');
    expect(JSON.stringify(lines[0].fields)).not.toContain('stack');
    expect(lines[0].fields.error).toMatchObject({ type: 'DatabaseUnavailableError', cause: { code: 'ECONNRESET' } });
    expect(lines[1].fields.error).toMatchObject({ type: 'TypeError', stack: expect.stringContaining('TypeError') });
  });
});
