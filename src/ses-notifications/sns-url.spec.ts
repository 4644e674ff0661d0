import { describe, expect, it } from '@jest/globals';
import { SNS_HOST_PATTERN, snsCertificateUrl, snsSubscribeUrl } from './sns-url.js';

describe('snsCertificateUrl', () => {
  it.each([
    'https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem',
    'https://sns.eu-central-1.amazonaws.com/SimpleNotificationService-01d088a6f77103d0fe307c0069e40ed6.pem',
    'https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem',
  ])('should take %s, an SNS certificate URL', (url) => {
    expect(snsCertificateUrl(url)?.href).toBe(url);
  });

  it.each([
    ['http, not https', 'http://sns.us-west-2.amazonaws.com/SimpleNotificationService-x.pem'],
    ['another host', 'https://evil.example.com/SimpleNotificationService-x.pem'],
    ['a host that ends like SNS', 'https://sns.us-west-2.amazonaws.com.evil.example/x.pem'],
    ['a host that begins elsewhere', 'https://xsns.us-west-2.amazonaws.com/x.pem'],
    ['a subdomain of another AWS service', 'https://s3.us-west-2.amazonaws.com/x.pem'],
    ['a port', 'https://sns.us-west-2.amazonaws.com:8443/x.pem'],
    ['credentials', 'https://user:pass@sns.us-west-2.amazonaws.com/x.pem'],
    ['not a .pem', 'https://sns.us-west-2.amazonaws.com/x.txt'],
    ['a query', 'https://sns.us-west-2.amazonaws.com/x.pem?a=b'],
    ['a fragment', 'https://sns.us-west-2.amazonaws.com/x.pem#frag'],
    ['no URL at all', 'sns.us-west-2.amazonaws.com/x.pem'],
    ['not a string', 42],
  ])('should refuse %s', (_why, url) => {
    expect(snsCertificateUrl(url)).toBeNull();
  });

  it('should match host and port against a replaced pattern (tests only)', () => {
    const pattern = /^127\.0\.0\.1:\d+$/;
    expect(snsCertificateUrl('https://127.0.0.1:8443/cert.pem', pattern)).not.toBeNull();
    expect(snsCertificateUrl('https://sns.us-west-2.amazonaws.com/cert.pem', pattern)).toBeNull();
  });
});

describe('snsSubscribeUrl', () => {
  it('should take an SNS ConfirmSubscription URL, query and all', () => {
    const url =
      'https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-west-2:123456789012:MyTopic&Token=233';
    expect(snsSubscribeUrl(url)?.searchParams.get('Action')).toBe('ConfirmSubscription');
  });

  it('should refuse any other host or scheme', () => {
    expect(snsSubscribeUrl('https://example.com/?Action=ConfirmSubscription')).toBeNull();
    expect(snsSubscribeUrl('http://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription')).toBeNull();
    expect(SNS_HOST_PATTERN.test('sns.us-west-2.amazonaws.com')).toBe(true);
  });
});
