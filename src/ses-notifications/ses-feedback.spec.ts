import { describe, expect, it } from '@jest/globals';
import { parseSesFeedback } from './ses-feedback.js';

const at = new Date('2026-01-01T00:00:00Z');
const mail = { messageId: '0100-abc', destination: ['a@example.com'] };

describe('parseSesFeedback', () => {
  it('should suppress the recipients of a permanent bounce only', () => {
    const bounce = (bounceType: string) =>
      JSON.stringify({
        notificationType: 'Bounce',
        mail,
        bounce: { bounceType, bounceSubType: 'General', bouncedRecipients: [{ emailAddress: 'a@example.com', status: '5.1.1' }] },
      });
    expect(parseSesFeedback(bounce('Permanent'), at)).toMatchObject({
      type: 'bounce',
      sesMessageId: '0100-abc',
      subtype: 'Permanent/General',
      recipients: [{ address: 'a@example.com', status: '5.1.1', diagnostic_code: null }],
      occurredAt: at,
      suppressAs: 'hard_bounce',
    });
    expect(parseSesFeedback(bounce('Transient'), at)?.suppressAs).toBeNull();
    expect(parseSesFeedback(bounce('Undetermined'), at)?.suppressAs).toBeNull();
  });

  it('should read event publishing (eventType) as notifications (notificationType)', () => {
    const complaint = { mail, complaint: { complainedRecipients: [{ emailAddress: 'a@example.com' }], timestamp: '2025-02-03T04:05:06Z' } };
    expect(parseSesFeedback(JSON.stringify({ eventType: 'Complaint', ...complaint }), at)).toMatchObject({
      type: 'complaint',
      subtype: null,
      recipients: [{ address: 'a@example.com' }],
      occurredAt: new Date('2025-02-03T04:05:06Z'),
      suppressAs: 'complaint',
    });
  });

  it('should ignore other event types, other JSON and text', () => {
    expect(parseSesFeedback(JSON.stringify({ eventType: 'Open', mail, open: {} }), at)).toBeNull();
    expect(parseSesFeedback(JSON.stringify({ notificationType: 'AmazonSnsSubscriptionSucceeded', message: 'x' }), at)).toBeNull();
    expect(parseSesFeedback(JSON.stringify({ notificationType: 'Bounce', mail: {}, bounce: {} }), at)).toBeNull();
    expect(parseSesFeedback('Hello world!', at)).toBeNull();
  });
});
