import {
  AccountSuspendedException,
  BadRequestException,
  LimitExceededException,
  MailFromDomainNotVerifiedException,
  MessageRejected,
  NotFoundException,
  SendEmailCommand,
  SendingPausedException,
  SESv2Client,
  SESv2ServiceException,
  TooManyRequestsException,
} from '@aws-sdk/client-sesv2';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { classifySesFailure } from './ses-failure.js';

const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const meta = (httpStatusCode: number) => ({ $metadata: { httpStatusCode, requestId: 'r-1', attempts: 1, totalRetryDelay: 0 } });
/** An SES error the SDK has no class for: a service exception named after the x-amzn-ErrorType. */
const unmodeled = (name: string, status: number, message = `${name} message`) =>
  new SESv2ServiceException({ name, $fault: status >= 500 ? 'server' : 'client', message, ...meta(status) });
/** A socket error as Node raises it, before or after nodemailer tags it. */
const socketError = (code: string, message = `connect ${code} 127.0.0.1:1`) => Object.assign(new Error(message), { code });
const written = { requestWritten: true };
const notWritten = { requestWritten: false };

describe('classifySesFailure', () => {
  describe('throttling: the provider is busy, fail over now', () => {
    it.each([
      ['TooManyRequestsException', new TooManyRequestsException({ message: 'Maximum sending rate exceeded.', ...meta(429) })],
      ['LimitExceededException', new LimitExceededException({ message: 'Daily message quota exceeded.', ...meta(400) })],
      ['Throttling', unmodeled('Throttling', 400)],
      ['ThrottlingException', unmodeled('ThrottlingException', 400)],
    ])('%s', (name, err) => {
      expect(classifySesFailure(err, written)).toMatchObject({
        kind: 'provider',
        code: name,
        command: 'SendEmail',
        retryAfterSeconds: null,
      });
    });

    it('should read a Retry-After the answer carries', () => {
      const err = new TooManyRequestsException({ message: 'slow down', ...meta(429) });
      Object.defineProperty(err, '$response', { value: { statusCode: 429, headers: { 'retry-after': '7' } } });
      expect(classifySesFailure(err).retryAfterSeconds).toBe(7);
    });
  });

  describe("the account, its credentials or SES itself: the provider's fault", () => {
    it.each([
      ['SendingPausedException', new SendingPausedException({ message: 'Email sending is disabled.', ...meta(400) }), 400],
      ['AccountSuspendedException', new AccountSuspendedException({ message: 'Account suspended.', ...meta(400) }), 400],
      ['NotFoundException', new NotFoundException({ message: 'Configuration set does not exist.', ...meta(404) }), 404],
      ['InvalidClientTokenId', unmodeled('InvalidClientTokenId', 403), 403],
      ['SignatureDoesNotMatch', unmodeled('SignatureDoesNotMatch', 403), 403],
      ['UnrecognizedClientException', unmodeled('UnrecognizedClientException', 403), 403],
      ['InvalidSignatureException', unmodeled('InvalidSignatureException', 403), 403],
      ['AccessDeniedException', unmodeled('AccessDeniedException', 403), 403],
      ['AccessDenied', unmodeled('AccessDenied', 403), 403],
      ['ExpiredTokenException', unmodeled('ExpiredTokenException', 400), 400],
      ['ExpiredToken', unmodeled('ExpiredToken', 400), 400],
      ['MissingAuthenticationToken', unmodeled('MissingAuthenticationToken', 403), 403],
      ['InternalFailure', unmodeled('InternalFailure', 500), 500],
      ['ServiceUnavailable', unmodeled('ServiceUnavailable', 503), 503],
      ['an unknown 403', unmodeled('SomethingNew', 403), 403],
      ['an unknown 404 (an endpoint that is not SES)', unmodeled('UnknownError', 404), 404],
      ['an unknown 5xx', unmodeled('SomethingBroke', 502), 502],
    ])('%s', (_label, err, status) => {
      expect(classifySesFailure(err, written)).toMatchObject({ kind: 'provider', code: err.name, responseCode: status });
    });
  });

  describe('SES refused this message: failed, no failover', () => {
    it.each([
      ['MessageRejected', new MessageRejected({ message: 'Email address is not verified.', ...meta(400) })],
      ['BadRequestException', new BadRequestException({ message: 'Invalid header.', ...meta(400) })],
      ['InvalidParameterValue', unmodeled('InvalidParameterValue', 400)],
      ['an unknown 400', unmodeled('SomethingNew', 400)],
      ['an unknown 413 (too large)', unmodeled('RequestEntityTooLarge', 413)],
    ])('%s', (_label, err) => {
      expect(classifySesFailure(err, written)).toMatchObject({
        kind: 'message',
        code: err.name,
        responseCode: err.$metadata.httpStatusCode,
      });
    });

    it('MailFromDomainNotVerifiedException, named in full', () => {
      const err = new MailFromDomainNotVerifiedException({ message: 'MAIL FROM domain not verified.', ...meta(400) });
      expect(classifySesFailure(err)).toMatchObject({ kind: 'message', code: 'MailFromDomainNotVerifiedException', responseCode: 400 });
    });

    it('a message nodemailer could not build (no request went out)', () => {
      expect(classifySesFailure(socketError('ESTREAM', 'stream failed'))).toMatchObject({
        kind: 'message',
        code: 'ESTREAM',
        command: null,
      });
    });
  });

  describe('no answer: it depends on how far the request got', () => {
    it.each([
      ['ECONNREFUSED', socketError('ECONNREFUSED'), 'ECONNREFUSED'],
      ['ENOTFOUND', socketError('ENOTFOUND'), 'ENOTFOUND'],
      ['a connect timeout', Object.assign(new Error('did not establish a connection'), { name: 'TimeoutError' }), 'ETIMEDOUT'],
      ['a reset while writing', Object.assign(socketError('ECONNRESET', 'socket hang up'), { name: 'TimeoutError' }), 'ECONNRESET'],
      [
        'missing credentials',
        Object.assign(new Error('Could not load credentials'), { name: 'CredentialsProviderError', code: 'ESES' }),
        'CredentialsProviderError',
      ],
    ])('%s before the whole request was written: provider', (_label, err, code) => {
      expect(classifySesFailure(err, notWritten)).toMatchObject({ kind: 'provider', code, responseCode: null });
    });

    it.each([
      ['a reset (socket hang up)', Object.assign(socketError('ECONNRESET', 'socket hang up'), { name: 'TimeoutError' }), 'ECONNRESET'],
      [
        'an inactivity timeout',
        Object.assign(new Error('socket timed out after 2000 ms of inactivity'), { name: 'TimeoutError', code: 'ESES' }),
        'ETIMEDOUT',
      ],
      [
        'a request timeout',
        Object.assign(new Error('exceeded the configured requestTimeout'), { name: 'TimeoutError', code: 'ETIMEDOUT' }),
        'ETIMEDOUT',
      ],
    ])('%s after the whole request was written: uncertain', (_label, err, code) => {
      expect(classifySesFailure(err, written)).toMatchObject({ kind: 'uncertain', code, responseCode: null });
    });

    it('should assume the worst for an error that can come after the request when it does not know how far it got', () => {
      expect(classifySesFailure(socketError('ECONNRESET', 'socket hang up')).kind).toBe('uncertain');
      expect(classifySesFailure(Object.assign(new Error('timed out'), { name: 'TimeoutError' })).kind).toBe('uncertain');
      expect(classifySesFailure(socketError('ECONNREFUSED')).kind).toBe('provider');
    });

    it("should read the request's own error when the SDK handed over an opaque wrapper", () => {
      const wrapper = Object.assign(new Error('AWS SDK error wrapper for Error: connect ECONNREFUSED 127.0.0.1:1'), {
        code: 'ESES',
        $metadata: { attempts: 1 },
      });
      expect(
        classifySesFailure(wrapper, {
          requestWritten: false,
          requestError: socketError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:1'),
        }),
      ).toMatchObject({ kind: 'provider', code: 'ECONNREFUSED', reply: 'connect ECONNREFUSED 127.0.0.1:1' });
    });

    it('should call a 2xx answer it could not read uncertain: SES took the message', () => {
      const err = Object.assign(new SyntaxError('Unexpected end of JSON input'), meta(200));
      expect(classifySesFailure(err, written)).toMatchObject({ kind: 'uncertain', responseCode: 200 });
    });
  });

  describe('what is recorded', () => {
    it('should keep the message on one line, cut to 300 characters, without the secret key in any form', () => {
      const b64 = Buffer.from(SECRET).toString('base64');
      const err = unmodeled('SignatureDoesNotMatch', 403, `The request signature\nwe calculated (${SECRET}, ${b64}) ${'x'.repeat(400)}`);
      const { reply } = classifySesFailure(err, written, SECRET);
      expect(reply).not.toContain(SECRET);
      expect(reply).not.toContain(b64.replace(/=+$/, ''));
      expect(reply).toMatch(/^The request signature we calculated \(\[redacted\], \[redacted\]\) x+$/);
      expect(reply).toHaveLength(300);
    });

    it('should give the error name when SES sent no message', () => {
      expect(classifySesFailure(unmodeled('InternalFailure', 500, 'UnknownError')).reply).toBe('InternalFailure');
    });
  });
});

describe('classifySesFailure on what the SDK raises for real SES error answers', () => {
  let server: http.Server;
  let client: SESv2Client;
  let answer: { status: number; type: string; message: string; headers?: Record<string, string> };

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        // As SES answers: the type in x-amzn-ErrorType (with its namespace suffix) and in the body.
        res.writeHead(answer.status, {
          'content-type': 'application/json',
          'x-amzn-errortype': `${answer.type}:http://internal.amazon.com/coral/com.amazonaws.sesv2/`,
          ...answer.headers,
        });
        res.end(JSON.stringify({ __type: answer.type, message: answer.message }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    client = new SESv2Client({
      region: 'eu-west-1',
      endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      credentials: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: SECRET },
      maxAttempts: 1,
    });
  });
  afterAll(async () => {
    client.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const failureFor = async (a: typeof answer) => {
    answer = a;
    const err = await client.send(new SendEmailCommand({ Content: { Raw: { Data: Buffer.from('x') } } })).then(
      () => null,
      (e: unknown) => e,
    );
    return classifySesFailure(err, { requestWritten: true }, SECRET);
  };

  it.each([
    [400, 'MessageRejected', 'message'],
    [400, 'MailFromDomainNotVerifiedException', 'message'],
    [400, 'BadRequestException', 'message'],
    [400, 'SendingPausedException', 'provider'],
    [400, 'AccountSuspendedException', 'provider'],
    [429, 'TooManyRequestsException', 'provider'],
    [400, 'LimitExceededException', 'provider'],
    [403, 'UnrecognizedClientException', 'provider'],
    [403, 'SignatureDoesNotMatch', 'provider'],
    [403, 'AccessDeniedException', 'provider'],
    [400, 'ExpiredTokenException', 'provider'],
    [500, 'InternalFailure', 'provider'],
  ])('%i %s is %s', async (status, type, kind) => {
    const f = await failureFor({ status, type, message: `${type} said` });
    expect(f).toMatchObject({ kind, responseCode: status, command: 'SendEmail', reply: `${type} said` });
    expect(type.startsWith(f.code)).toBe(true);
  });

  it('should take a Retry-After from a throttling answer', async () => {
    const f = await failureFor({ status: 429, type: 'TooManyRequestsException', message: 'slow', headers: { 'retry-after': '3' } });
    expect(f.retryAfterSeconds).toBe(3);
  });
});
