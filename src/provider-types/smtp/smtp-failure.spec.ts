import { describe, expect, it } from '@jest/globals';
import { classifySmtpFailure } from './smtp-failure.js';

/**
 * Every error below has the shape nodemailer 10.6 really produced, recorded by sending to
 * smtp-server 3.21 (and, for resets, a raw socket server) on loopback with pooled and unpooled
 * transports alike (both gave the same fields). Only the own properties nodemailer set are kept;
 * `message` is as recorded. A recipient refused while others were accepted is no error at all:
 * sendMail resolves with `info.rejected` and `info.rejectedErrors`.
 */
function nodemailerError(message: string, fields: Record<string, unknown>): Error {
  return Object.assign(new Error(message), fields);
}

const recorded = {
  refused: nodemailerError('connect ECONNREFUSED 127.0.0.1:46319', {
    errno: -111,
    code: 'ESOCKET',
    syscall: 'connect',
    address: '127.0.0.1',
    port: 46319,
    originalCode: 'ECONNREFUSED',
    command: 'CONN',
  }),
  dns: nodemailerError('getaddrinfo ENOTFOUND no-such-host.invalid', {
    errno: -3008,
    code: 'EDNS',
    syscall: 'getaddrinfo',
    hostname: 'no-such-host.invalid',
    originalCode: 'ENOTFOUND',
    command: 'CONN',
  }),
  greeting421: nodemailerError(
    'Invalid greeting. response=421 Service not available, try again in 30 seconds: 421 Service not available, try again in 30 seconds',
    {
      code: 'EPROTOCOL',
      response: '421 Service not available, try again in 30 seconds',
      responseCode: 421,
      permanent: false,
      command: 'CONN',
    },
  ),
  neverGreeted: nodemailerError('Greeting never received', { timeoutType: 'GREETING_TIMEOUT', code: 'ETIMEDOUT', command: 'CONN' }),
  auth535: nodemailerError('Invalid login: 535 Authentication credentials invalid', {
    code: 'EAUTH',
    response: '535 Authentication credentials invalid',
    responseCode: 535,
    permanent: true,
    command: 'AUTH PLAIN',
  }),
  authRequired530: nodemailerError('Mail command failed: 530 Error: authentication Required', {
    code: 'EENVELOPE',
    response: '530 Error: authentication Required',
    responseCode: 530,
    permanent: true,
    command: 'MAIL FROM',
  }),
  mailFrom550: nodemailerError('Mail command failed: 550 sender rejected', {
    code: 'EENVELOPE',
    response: '550 sender rejected',
    responseCode: 550,
    permanent: true,
    command: 'MAIL FROM',
  }),
  mailFrom451: nodemailerError('Mail command failed: 451 try again in 30 seconds', {
    code: 'EENVELOPE',
    response: '451 try again in 30 seconds',
    responseCode: 451,
    permanent: false,
    command: 'MAIL FROM',
  }),
  rcpt450All: nodemailerError("Can't send mail - all recipients were rejected: 450 mailbox 450", {
    code: 'EENVELOPE',
    response: '450 mailbox 450',
    responseCode: 450,
    permanent: false,
    command: 'RCPT TO',
    rejected: ['bad1@example.com', 'bad2@example.com'],
  }),
  rcpt550All: nodemailerError("Can't send mail - all recipients were rejected: 550 mailbox 550", {
    code: 'EENVELOPE',
    response: '550 mailbox 550',
    responseCode: 550,
    permanent: true,
    command: 'RCPT TO',
    rejected: ['bad1@example.com', 'bad2@example.com'],
  }),
  // One recipient got 550 and the other 450: nodemailer reports the deferred one.
  rcptMixedAll: nodemailerError("Can't send mail - all recipients were rejected: 450 later", {
    code: 'EENVELOPE',
    response: '450 later',
    responseCode: 450,
    permanent: false,
    command: 'RCPT TO',
    rejected: ['p@example.com', 't@example.com'],
  }),
  data550: nodemailerError('Message failed: 550 Message rejected as spam', {
    code: 'EMESSAGE',
    response: '550 Message rejected as spam',
    responseCode: 550,
    permanent: true,
    command: 'DATA',
  }),
  data554: nodemailerError('Message failed: 554 content rejected', {
    code: 'EMESSAGE',
    response: '554 content rejected',
    responseCode: 554,
    permanent: true,
    command: 'DATA',
  }),
  data451: nodemailerError('Message failed: 451 Temporary local problem, retry in 5 minutes', {
    code: 'EMESSAGE',
    response: '451 Temporary local problem, retry in 5 minutes',
    responseCode: 451,
    permanent: false,
    command: 'DATA',
  }),
  data503: nodemailerError('Message failed: 503 bad sequence', {
    code: 'EMESSAGE',
    response: '503 bad sequence',
    responseCode: 503,
    permanent: false,
    command: 'DATA',
  }),
  starttlsRefused: nodemailerError('Error upgrading connection with STARTTLS: 500 Error: command not recognized', {
    code: 'ETLS',
    response: '500 Error: command not recognized',
    responseCode: 500,
    permanent: true,
    command: 'STARTTLS',
  }),
  tlsToPlainServer: nodemailerError('805CE262E37F0000:error:0A00010B:SSL routines:ssl3_get_record:wrong version number', {
    library: 'SSL routines',
    reason: 'wrong version number',
    code: 'ESOCKET',
    originalCode: 'ERR_SSL_WRONG_VERSION_NUMBER',
    command: 'CONN',
  }),
  wrongCa: nodemailerError('self-signed certificate', { code: 'ESOCKET', originalCode: 'DEPTH_ZERO_SELF_SIGNED_CERT', command: 'CONN' }),
  poolGaveUp: nodemailerError('Reached maximum number of retries after connection was closed', { code: 'ECONNECTION' }),
  // The next three came both while waiting for the RCPT reply and after the final "." of DATA.
  dropped: nodemailerError('Connection closed unexpectedly', { code: 'ECONNECTION', command: 'CONN' }),
  silent: nodemailerError('Timeout', { timeoutType: 'SOCKET_TIMEOUT', code: 'ETIMEDOUT', command: 'CONN' }),
  reset: nodemailerError('read ECONNRESET', { errno: -104, code: 'ESOCKET', syscall: 'read', originalCode: 'ECONNRESET', command: 'CONN' }),
  // From nodemailer's source (smtp-connection send/_setEnvelope), not the probe: refused before connecting.
  noRecipients: nodemailerError('No recipients defined', { code: 'EENVELOPE', command: 'API' }),
};

describe(classifySmtpFailure.name, () => {
  describe('provider: the message was not handed over', () => {
    it.each([
      ['the port refuses the connection', recorded.refused],
      ['the host name does not resolve', recorded.dns],
      ['the server never greets', recorded.neverGreeted],
      ['the TLS handshake fails (plain server)', recorded.tlsToPlainServer],
      ['the certificate is not trusted', recorded.wrongCa],
      ['the pool gave up on a message it never sent', recorded.poolGaveUp],
    ])('should try the next provider when %s', (_case, err) => {
      expect(classifySmtpFailure(err).kind).toBe('provider');
    });

    it.each([
      ['421 greeting', recorded.greeting421],
      ['451 to MAIL FROM', recorded.mailFrom451],
      ['450 to every RCPT', recorded.rcpt450All],
      ['550 and 450 to the RCPTs', recorded.rcptMixedAll],
      ['451 to DATA', recorded.data451],
    ])('should try the next provider on any 4xx reply: %s', (_case, err) => {
      expect(classifySmtpFailure(err).kind).toBe('provider');
    });

    it.each([
      ['535 to AUTH', recorded.auth535],
      ['530 (authentication required) to MAIL FROM', recorded.authRequired530],
      ['550 to MAIL FROM', recorded.mailFrom550],
      ['500 to STARTTLS', recorded.starttlsRefused],
      ['503 (bad sequence) to DATA', recorded.data503],
    ])('should try the next provider when the provider refuses the session: %s', (_case, err) => {
      expect(classifySmtpFailure(err).kind).toBe('provider');
    });

    it.each([
      ['dropped', recorded.dropped],
      ['silent', recorded.silent],
      ['reset', recorded.reset],
    ])('should try the next provider when the connection was %s before the message was written', (_case, err) => {
      expect(classifySmtpFailure(err, { messageWritten: false }).kind).toBe('provider');
    });
  });

  describe('message: a permanent refusal of this message', () => {
    it.each([
      ['5xx to every RCPT', recorded.rcpt550All],
      ['550 to the content', recorded.data550],
      ['554 to the content', recorded.data554],
      ['no recipient at all (nodemailer refuses before connecting)', recorded.noRecipients],
    ])('should fail the message without trying others on %s', (_case, err) => {
      expect(classifySmtpFailure(err).kind).toBe('message');
    });

    it('should keep a permanent refusal even when the message had been written', () => {
      expect(classifySmtpFailure(recorded.data550, { messageWritten: true }).kind).toBe('message');
    });
  });

  describe('uncertain: the connection ended after the server may have the message', () => {
    it.each([
      ['dropped', recorded.dropped],
      ['silent until socketTimeout', recorded.silent],
      ['reset', recorded.reset],
    ])('should be uncertain when the connection was %s after the final "."', (_case, err) => {
      expect(classifySmtpFailure(err, { messageWritten: true }).kind).toBe('uncertain');
    });

    it.each([
      ['dropped', recorded.dropped],
      ['silent', recorded.silent],
      ['reset', recorded.reset],
    ])('should be uncertain when the connection was %s and the sender cannot tell how far it got', (_case, err) => {
      expect(classifySmtpFailure(err).kind).toBe('uncertain');
    });

    it('should be uncertain when given something that is not a nodemailer error', () => {
      expect(classifySmtpFailure('boom')).toEqual({
        kind: 'uncertain',
        code: 'UNKNOWN',
        responseCode: null,
        command: null,
        retryAfterSeconds: null,
        reply: null,
      });
    });
  });

  describe('fields for the records', () => {
    it('should carry code, responseCode, command and the server reply rather than the error message', () => {
      expect(classifySmtpFailure(recorded.rcpt550All)).toEqual({
        kind: 'message',
        code: 'EENVELOPE',
        responseCode: 550,
        command: 'RCPT TO',
        retryAfterSeconds: null,
        reply: '550 mailbox 550',
      });
    });

    it('should fall back to the error message when the server said nothing', () => {
      expect(classifySmtpFailure(recorded.neverGreeted)).toMatchObject({
        code: 'ETIMEDOUT',
        responseCode: null,
        reply: 'Greeting never received',
      });
    });

    it('should cut the reply to 300 characters on one line when the server is verbose', () => {
      const long = nodemailerError('Message failed', {
        code: 'EMESSAGE',
        response: `550-${'x'.repeat(200)}\n550 ${'y'.repeat(200)}`,
        responseCode: 550,
        command: 'DATA',
      });
      const { reply } = classifySmtpFailure(long);
      expect(reply).toHaveLength(300);
      expect(reply).not.toMatch(/[\r\n]/);
    });

    it('should drop the argument of an AUTH command when a server echoes it', () => {
      const secret = Buffer.from('\0user\0hunter2').toString('base64');
      const echoed = nodemailerError('Invalid login', {
        code: 'EAUTH',
        response: `501 5.5.2 Syntax error in AUTH PLAIN ${secret} (rejected)`,
        responseCode: 501,
        command: 'AUTH PLAIN',
      });
      const { reply } = classifySmtpFailure(echoed);
      expect(reply).toBe('501 5.5.2 Syntax error in AUTH PLAIN [redacted]');
      expect(reply).not.toContain(secret);
    });
  });

  describe('retryAfterSeconds', () => {
    it.each([
      [recorded.greeting421, 30],
      [recorded.mailFrom451, 30],
      [recorded.data451, 300],
      [
        nodemailerError('x', {
          code: 'EENVELOPE',
          response: '450 4.7.1 Rate limited, try again after 2 hours',
          responseCode: 450,
          command: 'RCPT TO',
        }),
        7200,
      ],
      [recorded.rcpt450All, null],
    ])('should read the wait a 4xx reply asks for (%#)', (err, seconds) => {
      expect(classifySmtpFailure(err).retryAfterSeconds).toBe(seconds);
    });

    it('should ignore a wait mentioned in a 5xx reply', () => {
      const err = nodemailerError('x', {
        code: 'EMESSAGE',
        response: '554 try again in 30 seconds',
        responseCode: 554,
        permanent: true,
        command: 'DATA',
      });
      expect(classifySmtpFailure(err).retryAfterSeconds).toBeNull();
    });
  });
});
