import { describe, expect, it } from '@jest/globals';
import { removeSuppressed, type Recipients } from './suppressed-recipients.js';
import type { SuppressionReason } from './suppression.types.js';

const recipients = (r: Partial<Recipients>): Recipients => ({ to: [], cc: [], bcc: [], ...r });
const reasons = (entries: Record<string, SuppressionReason>) => new Map(Object.entries(entries));

describe(removeSuppressed.name, () => {
  it('should keep every recipient and list none when nothing is suppressed', () => {
    const r = recipients({ to: ['a@example.com'], cc: ['b@example.com'], bcc: ['c@example.com'] });
    expect(removeSuppressed(r, new Map())).toEqual({ recipients: r, suppressed: [] });
  });

  it('should remove suppressed addresses from to, cc and bcc and list them with their reason, in order', () => {
    const r = recipients({ to: ['a@example.com', 'X@example.com'], cc: ['y@example.com', 'b@example.com'], bcc: ['z@example.com'] });
    const screened = removeSuppressed(
      r,
      reasons({ 'X@example.com': 'manual', 'y@example.com': 'hard_bounce', 'z@example.com': 'complaint' }),
    );
    expect(screened).toEqual({
      recipients: { to: ['a@example.com'], cc: ['b@example.com'], bcc: [] },
      suppressed: [
        { address: 'X@example.com', reason: 'manual' },
        { address: 'y@example.com', reason: 'hard_bounce' },
        { address: 'z@example.com', reason: 'complaint' },
      ],
    });
  });

  it('should list an address given twice once, and keep a message whose only recipients left are in cc', () => {
    const r = recipients({ to: ['x@example.com'], cc: ['a@example.com'], bcc: ['x@example.com'] });
    expect(removeSuppressed(r, reasons({ 'x@example.com': 'manual' }))).toEqual({
      recipients: { to: [], cc: ['a@example.com'], bcc: [] },
      suppressed: [{ address: 'x@example.com', reason: 'manual' }],
    });
  });

  it('should refuse a message when every recipient is suppressed, naming each field they came from', () => {
    const r = recipients({ to: ['x@example.com', 'y@example.com'], bcc: ['z@example.com'] });
    expect(
      removeSuppressed(r, reasons({ 'x@example.com': 'manual', 'y@example.com': 'complaint', 'z@example.com': 'hard_bounce' })),
    ).toEqual({
      refused: {
        to: ['Every recipient is suppressed: x@example.com, y@example.com'],
        bcc: ['Every recipient is suppressed: z@example.com'],
      },
    });
  });

  it('should name only `to` when a message with only to recipients is wholly suppressed', () => {
    expect(removeSuppressed(recipients({ to: ['x@example.com'] }), reasons({ 'x@example.com': 'manual' }))).toEqual({
      refused: { to: ['Every recipient is suppressed: x@example.com'] },
    });
  });
});
