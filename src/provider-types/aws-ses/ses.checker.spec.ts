import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { GetAccountCommand, SESv2Client, SESv2ServiceException, TooManyRequestsException } from '@aws-sdk/client-sesv2';
import { mockClient } from 'aws-sdk-client-mock';
import type { SendingProvider } from '../../providers/sending-provider.js';
import { checkSes } from './ses.checker.js';

const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

const provider = {
  id: 7,
  name: 'SES',
  providerType: 'aws_ses',
  awsRegion: 'eu-west-1',
  awsAccessKeyId: 'AKIAIOSFODNN7EXAMPLE',
} as SendingProvider;

/** An error as the SDK throws it for an AWS error answer: the exception class SES named, its HTTP status, its message. */
function serviceError(name: string, status: number, message: string): SESv2ServiceException {
  return new SESv2ServiceException({ name, $fault: 'client', $metadata: { httpStatusCode: status }, message });
}

describe('checkSes (SESv2 GetAccount)', () => {
  const ses = mockClient(SESv2Client);
  beforeEach(() => {
    ses.reset();
  });
  afterEach(() => {
    ses.reset();
  });

  it('should call a sending, healthy account healthy and return its quota', async () => {
    ses.on(GetAccountCommand).resolves({
      SendingEnabled: true,
      EnforcementStatus: 'HEALTHY',
      ProductionAccessEnabled: false,
      SendQuota: { Max24HourSend: 200, MaxSendRate: 1, SentLast24Hours: 12 },
    });
    const outcome = await checkSes(provider, SECRET, 1000);
    expect(outcome).toEqual({
      healthy: true,
      latencyMs: expect.any(Number),
      errorCode: null,
      smtpCode: null,
      reply: null,
      details: {
        sesAccount: {
          sendingEnabled: true,
          enforcementStatus: 'HEALTHY',
          productionAccessEnabled: false,
          max24HourSend: 200,
          maxSendRate: 1,
          sentLast24Hours: 12,
        },
      },
    });
    expect(ses.commandCalls(GetAccountCommand)).toHaveLength(1);
  });

  it('should call a throttled check unhealthy with the exception name and HTTP status', async () => {
    ses.on(GetAccountCommand).rejects(new TooManyRequestsException({ message: 'Too many requests.', $metadata: { httpStatusCode: 429 } }));
    expect(await checkSes(provider, SECRET, 1000)).toMatchObject({
      healthy: false,
      errorCode: 'TooManyRequestsException',
      smtpCode: 429,
      reply: 'Too many requests.',
    });
  });

  it.each([
    ['UnrecognizedClientException', 403, 'The security token included in the request is invalid.'],
    ['InvalidClientTokenId', 403, 'The security token included in the request is invalid.'],
    ['SignatureDoesNotMatch', 403, 'The request signature we calculated does not match the signature you provided.'],
    ['AccessDeniedException', 403, 'User is not authorized to perform: ses:GetAccount'],
  ])('should call a credentials error (%s) unhealthy with its name', async (name, status, message) => {
    ses.on(GetAccountCommand).rejects(serviceError(name, status, message));
    expect(await checkSes(provider, SECRET, 1000)).toMatchObject({ healthy: false, errorCode: name, smtpCode: status, reply: message });
  });

  it('should never give back the secret access key, even when an error quotes it', async () => {
    ses
      .on(GetAccountCommand)
      .rejects(serviceError('SignatureDoesNotMatch', 403, `bad signature for key ${SECRET} (${SECRET.slice(0, 20)}…)`));
    const outcome = await checkSes(provider, SECRET, 1000);
    expect(outcome.errorCode).toBe('SignatureDoesNotMatch');
    expect(outcome.reply).toContain('[redacted]');
    expect(JSON.stringify(outcome)).not.toContain(SECRET);
  });

  it('should name a network failure by its system error code', async () => {
    ses.on(GetAccountCommand).rejects(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }));
    expect(await checkSes(provider, SECRET, 1000)).toMatchObject({ healthy: false, errorCode: 'ECONNREFUSED', smtpCode: null });
  });

  it('should find the system error code in an error the SDK re-wrapped as text', async () => {
    ses
      .on(GetAccountCommand)
      .rejects(
        Object.assign(new Error('AWS SDK error wrapper for Error: connect ECONNREFUSED 127.0.0.1:9'), { $metadata: { attempts: 1 } }),
      );
    expect(await checkSes(provider, SECRET, 1000)).toMatchObject({
      healthy: false,
      errorCode: 'ECONNREFUSED',
      reply: 'connect ECONNREFUSED 127.0.0.1:9',
    });
  });

  it('should give up after the timeout when SES does not answer', async () => {
    ses.on(GetAccountCommand).callsFake(() => new Promise(() => undefined));
    expect(await checkSes(provider, SECRET, 50)).toMatchObject({ healthy: false, errorCode: 'ETIMEDOUT', reply: 'health check timed out' });
  });

  it.each([
    [{ SendingEnabled: false, EnforcementStatus: 'HEALTHY' }, 'SES_SENDING_DISABLED'],
    [{ SendingEnabled: true, EnforcementStatus: 'SHUTDOWN' }, 'SES_SHUTDOWN'],
    [{ EnforcementStatus: 'HEALTHY' }, 'SES_SENDING_DISABLED'],
  ])('should call an account that cannot send (%j) unhealthy, and still return what SES said', async (answer, code) => {
    ses.on(GetAccountCommand).resolves(answer);
    const outcome = await checkSes(provider, SECRET, 1000);
    expect(outcome).toMatchObject({ healthy: false, errorCode: code, details: { sesAccount: { max24HourSend: null, maxSendRate: null } } });
  });

  it('should call a PROBATION account that can send healthy', async () => {
    ses.on(GetAccountCommand).resolves({ SendingEnabled: true, EnforcementStatus: 'PROBATION' });
    expect((await checkSes(provider, SECRET, 1000)).healthy).toBe(true);
  });
});
