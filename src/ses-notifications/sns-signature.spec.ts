import { describe, expect, it } from '@jest/globals';
import { generateKeyPairSync, createSign, X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { SnsEnvelope } from './sns-envelope.js';
import { canonicalString, signatureValid } from './sns-signature.js';

const notification: SnsEnvelope = {
  Type: 'Notification',
  MessageId: '22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324',
  TopicArn: 'arn:aws:sns:us-west-2:123456789012:MyTopic',
  Subject: 'My First Message',
  Message: 'Hello world!',
  Timestamp: '2012-05-02T00:54:06.655Z',
  SignatureVersion: '1',
  Signature: '',
  SigningCertURL: 'https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem',
};

describe('canonicalString', () => {
  it('should list a Notification’s Message, MessageId, Subject, Timestamp, TopicArn and Type, each as "Key\\nValue\\n"', () => {
    expect(canonicalString(notification)).toBe(
      'Message\nHello world!\nMessageId\n22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324\nSubject\nMy First Message\n' +
        'Timestamp\n2012-05-02T00:54:06.655Z\nTopicArn\narn:aws:sns:us-west-2:123456789012:MyTopic\nType\nNotification\n',
    );
  });

  it('should leave Subject out when a Notification has none', () => {
    expect(canonicalString({ ...notification, Subject: undefined })).not.toContain('Subject');
    expect(canonicalString({ ...notification, Subject: null })).not.toContain('Subject');
  });

  it('should list SubscribeURL and Token, never Subject, for a SubscriptionConfirmation', () => {
    const m: SnsEnvelope = { ...notification, Type: 'SubscriptionConfirmation', Token: 'tok', SubscribeURL: 'https://sns/x' };
    expect(canonicalString(m)).toBe(
      'Message\nHello world!\nMessageId\n22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324\nSubscribeURL\nhttps://sns/x\n' +
        'Timestamp\n2012-05-02T00:54:06.655Z\nToken\ntok\nTopicArn\narn:aws:sns:us-west-2:123456789012:MyTopic\nType\nSubscriptionConfirmation\n',
    );
  });
});

describe('signatureValid', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sns-sig-'));
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=sns', '-keyout', 'k.pem', '-out', 'c.pem'],
    { cwd: dir, stdio: 'pipe' },
  );
  const key = fs.readFileSync(path.join(dir, 'k.pem'), 'utf8');
  const certificate = new X509Certificate(fs.readFileSync(path.join(dir, 'c.pem')));
  fs.rmSync(dir, { recursive: true, force: true });
  const signed = (m: SnsEnvelope, algorithm: string, k: Parameters<ReturnType<typeof createSign>['sign']>[0] = key) => ({
    ...m,
    Signature: createSign(algorithm).update(canonicalString(m)).sign(k, 'base64'),
  });

  it('should accept SignatureVersion 1 (SHA1withRSA) and 2 (SHA256withRSA)', () => {
    expect(signatureValid(signed(notification, 'RSA-SHA1'), certificate)).toBe(true);
    expect(signatureValid(signed({ ...notification, SignatureVersion: '2' }, 'RSA-SHA256'), certificate)).toBe(true);
  });

  it('should refuse a version signed with the other algorithm, an unknown version, another key, a changed field, garbage', () => {
    expect(signatureValid(signed({ ...notification, SignatureVersion: '2' }, 'RSA-SHA1'), certificate)).toBe(false);
    expect(signatureValid(signed({ ...notification, SignatureVersion: '3' }, 'RSA-SHA256'), certificate)).toBe(false);
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    expect(signatureValid(signed(notification, 'RSA-SHA1', other), certificate)).toBe(false);
    expect(signatureValid({ ...signed(notification, 'RSA-SHA1'), Message: 'Hello world?' }, certificate)).toBe(false);
    expect(signatureValid({ ...notification, Signature: 'not base64 at all!' }, certificate)).toBe(false);
  });
});
