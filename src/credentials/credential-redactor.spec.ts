import { describe, expect, it } from '@jest/globals';
import { redactAuthArgument, redactCredentials, redactSmtpText, scrubCredentials } from './credential-redactor.js';

const login = { user: 'mailer@example.com', pass: 'Tr0ub4dor&3-horse' };
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const plainArg = b64(`\0${login.user}\0${login.pass}`);

describe('redactCredentials', () => {
  it.each([
    ['the password in clear', `535 bad password ${login.pass} for you`, '535 bad password [redacted] for you'],
    ['the AUTH PLAIN argument', `535 5.7.8 ${plainArg} rejected`, '535 5.7.8 [redacted] rejected'],
    ['the AUTH PLAIN argument unpadded', `535 5.7.8 ${plainArg.replace(/=+$/, '')} rejected`, '535 5.7.8 [redacted] rejected'],
    ['the AUTH PLAIN argument cut short', `535 got ${plainArg.slice(0, 20)}... rejected`, '535 got [redacted]... rejected'],
    ['the AUTH PLAIN argument without the leading NUL', `535 got ${b64(`${login.user}\0${login.pass}`)}`, '535 got [redacted]'],
    ['the argument with an authorization identity', `535 got ${b64(`${login.user}\0${login.user}\0${login.pass}`)}`, '535 got [redacted]'],
    ['a piece from the middle of the argument', `535 got x${plainArg.slice(9, 30)}`, '535 got [redacted]'],
    ["AUTH LOGIN's base64 user and password", `535 ${b64(login.user)} ${b64(login.pass)} no`, '535 [redacted] [redacted] no'],
    ['base64 of the password after some text of the server', `535 ${b64(`pass=${login.pass};`)}`, '535 [redacted]'],
    ['the password run into other text', `535 AAAA${login.pass}BBBB`, '535 AAAA[redacted]BBBB'],
  ])('should remove %s', (_, text, expected) => {
    expect(redactCredentials(text, login)).toBe(expected);
  });

  it('should keep a reply that holds no credentials as it is', () => {
    const text = '535 5.7.8 Authentication credentials invalid, see https://example.com/help?id=AbCdEf0123';
    expect(redactCredentials(text, login)).toBe(text);
  });

  it('should make one [redacted] of overlapping or adjacent spans', () => {
    expect(redactCredentials(`x ${login.pass}${login.pass} y`, login)).toBe('x [redacted] y');
  });

  it('should work with only a user, only a password, or neither', () => {
    expect(redactCredentials(`535 ${b64('bob')} no`, { user: 'bob', pass: null })).toBe('535 [redacted] no');
    expect(redactCredentials('535 abcd no', { user: null, pass: 'abcd' })).toBe('535 [redacted] no');
    expect(redactCredentials('535 anything', { user: null, pass: null })).toBe('535 anything');
  });

  it('should redact a short password in clear, never look for it in decoded words', () => {
    // "rejected" decodes to bytes that may contain a one- or two-byte password by chance.
    expect(redactCredentials('535 x rejected', { user: 'u', pass: 'x' })).toBe('535 [redacted] rejected');
  });
});

describe('redactAuthArgument and redactSmtpText', () => {
  it('should keep the mechanism and drop what followed it', () => {
    expect(redactAuthArgument('501 5.5.2 Syntax error in AUTH PLAIN dXNlcjpwYXNz (rejected)')).toBe(
      '501 5.5.2 Syntax error in AUTH PLAIN [redacted]',
    );
    expect(redactAuthArgument('535 AUTH failed')).toBe('535 AUTH failed');
  });

  it('should apply both rules', () => {
    expect(redactSmtpText(`535 ${plainArg} is not AUTH LOGIN stuff`, login)).toBe('535 [redacted] is not AUTH LOGIN [redacted]');
    expect(redactSmtpText(`535 ${plainArg}`)).toBe(`535 ${plainArg}`);
  });
});

describe('scrubCredentials', () => {
  it("should rewrite a nodemailer error's message, response, stack and cause in place", () => {
    const err = Object.assign(new Error(`Invalid login: 535 ${plainArg} rejected`), {
      response: `535 ${plainArg} rejected`,
      responseCode: 535,
      code: 'EAUTH',
      cause: new Error(`inner ${login.pass}`),
    });
    expect(scrubCredentials(err, login)).toBe(err);
    expect(err.message).toBe('Invalid login: 535 [redacted] rejected');
    expect(err.response).toBe('535 [redacted] rejected');
    expect(err.stack).not.toContain(plainArg);
    expect((err.cause as Error).message).toBe('inner [redacted]');
    expect(err).toMatchObject({ responseCode: 535, code: 'EAUTH' });
  });

  it('should leave anything but an object alone', () => {
    expect(scrubCredentials('text', login)).toBe('text');
    expect(scrubCredentials(null, login)).toBeNull();
  });
});
