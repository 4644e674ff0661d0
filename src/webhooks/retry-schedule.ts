/** About a day in all: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h after each failed attempt. */
export const DEFAULT_RETRY_DELAYS_SECONDS = [5, 300, 1800, 7200, 18000, 36000, 50400];

/**
 * When the next attempt is due after attempt number `attempts` failed, or null when the schedule
 * is spent and the delivery is given up. Each delay is spread by ±20 % so that the deliveries of
 * one outage do not all come back at the same second.
 */
export function nextAttemptAt(attempts: number, delaysSeconds: number[], now: Date, random: () => number = Math.random): Date | null {
  const delay = delaysSeconds[attempts - 1];
  if (delay === undefined) return null;
  return new Date(now.getTime() + delay * 1000 * (0.8 + 0.4 * random()));
}

/** WEBHOOK_RETRY_DELAYS: comma-separated seconds, each > 0; throws naming the first bad entry. */
export function parseRetryDelays(raw: string): number[] {
  const delays = raw
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)
    .map((e) => {
      const n = Number(e);
      if (!Number.isFinite(n) || n <= 0) throw new Error(`'${e}' is not a number of seconds above 0`);
      return n;
    });
  if (delays.length > 50) throw new Error('at most 50 retries');
  return delays;
}
