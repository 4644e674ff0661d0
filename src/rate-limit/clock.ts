/** Where "now" comes from, so tests can move time across window, day and month boundaries. */
export interface Clock {
  now(): Date;
}

export const CLOCK = Symbol('Clock');

export const systemClock: Clock = { now: () => new Date() };
