import { describe, expect, it } from '@jest/globals';
import { DEFAULT_RETRY_DELAYS_SECONDS, nextAttemptAt, parseRetryDelays } from './retry-schedule.js';

describe('webhook retry schedule', () => {
  const now = new Date('2026-01-01T00:00:00Z');

  it('waits the delay of the attempt that failed, spread by at most 20 %', () => {
    expect(nextAttemptAt(1, DEFAULT_RETRY_DELAYS_SECONDS, now, () => 0.5)).toEqual(new Date(now.getTime() + 5_000));
    expect(nextAttemptAt(2, DEFAULT_RETRY_DELAYS_SECONDS, now, () => 0)).toEqual(new Date(now.getTime() + 240_000));
    expect(nextAttemptAt(2, DEFAULT_RETRY_DELAYS_SECONDS, now, () => 1)).toEqual(new Date(now.getTime() + 360_000));
  });

  it('gives up after the last delay: eight attempts over about a day', () => {
    expect(nextAttemptAt(7, DEFAULT_RETRY_DELAYS_SECONDS, now, () => 0.5)).toEqual(new Date(now.getTime() + 50_400_000));
    expect(nextAttemptAt(8, DEFAULT_RETRY_DELAYS_SECONDS, now)).toBeNull();
    const hours = DEFAULT_RETRY_DELAYS_SECONDS.reduce((a, b) => a + b, 0) / 3600;
    expect(hours).toBeGreaterThan(24);
    expect(hours).toBeLessThan(36);
  });

  it('reads the setting and names a bad entry', () => {
    expect(parseRetryDelays('1, 2.5,60')).toEqual([1, 2.5, 60]);
    expect(parseRetryDelays('')).toEqual([]);
    expect(() => parseRetryDelays('5,soon')).toThrow("'soon'");
    expect(() => parseRetryDelays('0')).toThrow("'0'");
  });
});
