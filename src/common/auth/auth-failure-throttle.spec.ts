import { describe, expect, it } from '@jest/globals';
import { AuthFailureThrottle } from './auth-failure-throttle.js';

const WINDOW = 60_000;

function throttle(limit: number, maxClients?: number) {
  let t = 1_000_000;
  const th = new AuthFailureThrottle({ limit, windowMs: WINDOW, maxClients }, () => t);
  return { th, advance: (ms: number) => (t += ms) };
}

describe(AuthFailureThrottle.name, () => {
  it('should block a client for one window from the failure that reaches the limit', () => {
    const { th, advance } = throttle(3);
    expect(th.recordFailure('a')).toBe(false);
    expect(th.recordFailure('a')).toBe(false);
    expect(th.retryAfterMs('a')).toBe(0);
    expect(th.recordFailure('a')).toBe(true);
    expect(th.retryAfterMs('a')).toBe(WINDOW);
    advance(WINDOW - 1);
    expect(th.retryAfterMs('a')).toBe(1);
    advance(1);
    expect(th.retryAfterMs('a')).toBe(0);
  });

  it('should start counting afresh once a block is over', () => {
    const { th, advance } = throttle(2);
    th.recordFailure('a');
    th.recordFailure('a');
    advance(WINDOW);
    expect(th.recordFailure('a')).toBe(false);
    expect(th.retryAfterMs('a')).toBe(0);
    expect(th.recordFailure('a')).toBe(true);
  });

  it('should forget failures older than the window when they were spread out (a sliding window)', () => {
    const { th, advance } = throttle(3);
    th.recordFailure('a');
    advance(40_000);
    th.recordFailure('a');
    advance(20_001); // the first is now more than a minute old
    expect(th.recordFailure('a')).toBe(false);
    expect(th.retryAfterMs('a')).toBe(0);
    advance(1);
    expect(th.recordFailure('a')).toBe(true);
  });

  it('should not extend a block when failures keep arriving during it', () => {
    const { th, advance } = throttle(1);
    th.recordFailure('a');
    advance(30_000);
    expect(th.recordFailure('a')).toBe(false);
    expect(th.retryAfterMs('a')).toBe(30_000);
  });

  it('should count each client on its own', () => {
    const { th } = throttle(2);
    th.recordFailure('a');
    th.recordFailure('a');
    expect(th.retryAfterMs('a')).toBeGreaterThan(0);
    expect(th.retryAfterMs('b')).toBe(0);
    expect(th.recordFailure('b')).toBe(false);
  });

  it('should never block when the limit is 0', () => {
    const { th } = throttle(0);
    for (let i = 0; i < 1000; i++) expect(th.recordFailure('a')).toBe(false);
    expect(th.retryAfterMs('a')).toBe(0);
    expect(th.size).toBe(0);
  });

  it('should remember at most maxClients, forgetting finished clients first, then the least recently failed', () => {
    const { th, advance } = throttle(2, 3);
    th.recordFailure('old'); // will be over by the time room is needed
    advance(WINDOW + 1);
    th.recordFailure('x');
    th.recordFailure('blocked');
    th.recordFailure('blocked');
    th.recordFailure('y'); // full: 'old' goes, not a live one
    expect(th.size).toBe(3);
    expect(th.retryAfterMs('blocked')).toBeGreaterThan(0);
    th.recordFailure('z'); // full of live clients: 'x', the least recently failed, goes
    expect(th.size).toBe(3);
    expect(th.retryAfterMs('blocked')).toBeGreaterThan(0);
    th.recordFailure('x');
    expect(th.retryAfterMs('x')).toBe(0); // its earlier failure was forgotten with it
  });

  it('should keep memory bounded under failures from many addresses', () => {
    const { th, advance } = throttle(20, 1000);
    for (let i = 0; i < 50_000; i++) {
      th.recordFailure(`10.0.${i >> 8}.${i & 255}`);
      advance(1);
    }
    expect(th.size).toBeLessThanOrEqual(1000);
  });
});
