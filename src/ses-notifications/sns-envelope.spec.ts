import { describe, expect, it } from '@jest/globals';
import { parseSnsEnvelope } from './sns-envelope.js';

const notification = {
  Type: 'Notification',
  MessageId: '22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324',
  TopicArn: 'arn:aws:sns:us-west-2:123456789012:MyTopic',
  Message: 'Hello world!',
  Timestamp: '2012-05-02T00:54:06.655Z',
  SignatureVersion: '1',
  Signature: 'EXAMPLE',
  SigningCertURL: 'https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem',
};

describe('parseSnsEnvelope', () => {
  it('should read the JSON SNS sends as text, and a body already parsed', () => {
    expect(parseSnsEnvelope(JSON.stringify(notification))).toEqual(notification);
    expect(parseSnsEnvelope(notification)).toEqual(notification);
  });

  it.each([
    ['text that is not JSON', 'Hello', /not JSON/],
    ['a JSON array', '[]', /not an SNS message/],
    ['an unknown Type', { ...notification, Type: 'Other' }, /known Type/],
    ['no Signature', { ...notification, Signature: undefined }, /lacks Signature/],
    ['a Signature that is not a string', { ...notification, Signature: 7 }, /lacks Signature/],
    ['a confirmation without SubscribeURL', { ...notification, Type: 'SubscriptionConfirmation', Token: 't' }, /SubscribeURL/],
    ['an overlong MessageId', { ...notification, MessageId: 'x'.repeat(256) }, /invalid MessageId/],
  ])('should say why %s is no SNS message', (_why, body, reason) => {
    expect(parseSnsEnvelope(body)).toMatch(reason);
  });
});
