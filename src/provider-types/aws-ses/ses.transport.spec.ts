import { MessageRejected, SendEmailCommand, SESv2Client } from '@aws-sdk/client-sesv2';
import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { mockClient } from 'aws-sdk-client-mock';
import { simpleParser } from 'mailparser';
import http from 'node:http';
import net from 'node:net';
import type { SendingConfig } from '../../config/app-config.js';
import type { SendingProvider } from '../../providers/sending-provider.js';
import type { OutgoingMail } from '../mail-transport.js';
import { SendFailure, type ClassifiedFailure } from '../send-failure.js';
import { SesTransport } from './ses.transport.js';

const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const config = { messageIdDomain: 'mail.test.local', smtp: { connectionTimeoutMs: 2000, socketTimeoutMs: 2000 } } as SendingConfig;
const provider = {
  id: 1,
  name: 'SES',
  providerType: 'aws_ses',
  awsRegion: 'eu-west-1',
  awsAccessKeyId: 'AKIAIOSFODNN7EXAMPLE',
} as SendingProvider;
const mail: OutgoingMail = {
  messageId: '<0a1b2c@mail.test.local>',
  from: { name: 'Example Co', address: 'noreply@example.com' },
  replyTo: 'help@example.com',
  to: ['alice@example.com'],
  cc: ['carol@example.com'],
  bcc: ['dave@example.com'],
  subject: 'Hello',
  text: 'Plain body',
  html: null,
  headers: { 'X-Campaign': 'spring' },
  attachments: [{ filename: 'a.txt', content: Buffer.from('attached'), contentType: 'text/plain' }],
};

const failureOf = (err: unknown): ClassifiedFailure => {
  expect(err).toBeInstanceOf(SendFailure);
  return (err as SendFailure).failure;
};

describe('SesTransport (SDK client mocked)', () => {
  const ses = mockClient(SESv2Client);
  afterEach(() => {
    ses.reset();
  });
  afterAll(() => {
    ses.restore();
  });

  it('should send the MIME message to every recipient, from the plain sender, and keep SES MessageId as the reply', async () => {
    ses.on(SendEmailCommand).resolves({ MessageId: '0102018f-abc' });
    const transport = new SesTransport(provider, SECRET, config);
    const delivered = await transport.send(mail);
    transport.close();
    expect(delivered).toEqual({
      accepted: ['alice@example.com', 'carol@example.com', 'dave@example.com'],
      rejected: [],
      reply: 'SES MessageId 0102018f-abc',
      providerMessageId: '0102018f-abc',
    });
    const [call] = ses.commandCalls(SendEmailCommand);
    const input = call.args[0].input;
    expect(input.FromEmailAddress).toBe('noreply@example.com');
    expect(input.ConfigurationSetName).toBeUndefined();
    expect(input.Destination).toEqual({ ToAddresses: ['alice@example.com', 'carol@example.com', 'dave@example.com'] });
    const parsed = await simpleParser(Buffer.from(input.Content?.Raw?.Data as Uint8Array));
    expect(parsed.messageId).toBe(mail.messageId);
    expect(parsed.headers.get('bcc')).toBeUndefined();
    expect(parsed.headers.get('x-campaign')).toBe('spring');
    expect(parsed.attachments.map((a) => a.filename)).toEqual(['a.txt']);
  });

  it("should send with the provider's configuration set when it has one", async () => {
    ses.on(SendEmailCommand).resolves({ MessageId: '0102018f-def' });
    const transport = new SesTransport({ ...provider, sesConfigurationSet: 'transactional-events' }, SECRET, config);
    await transport.send(mail);
    transport.close();
    const [call] = ses.commandCalls(SendEmailCommand);
    expect(call.args[0].input.ConfigurationSetName).toBe('transactional-events');
  });

  it('should throw a classified SendFailure when SES refuses', async () => {
    ses
      .on(SendEmailCommand)
      .rejects(new MessageRejected({ message: 'Email address is not verified.', $metadata: { httpStatusCode: 400 } }));
    const transport = new SesTransport(provider, SECRET, config);
    const err = await transport.send(mail).catch((e: unknown) => e);
    transport.close();
    expect(failureOf(err)).toEqual({
      kind: 'message',
      code: 'MessageRejected',
      responseCode: 400,
      command: 'SendEmail',
      retryAfterSeconds: null,
      reply: 'Email address is not verified.',
    });
  });

  it('should destroy its SDK client on close', () => {
    const destroy = jest.spyOn(SESv2Client.prototype, 'destroy');
    try {
      new SesTransport(provider, SECRET, config).close();
      expect(destroy).toHaveBeenCalledTimes(1);
    } finally {
      destroy.mockRestore();
    }
  });
});

describe('SesTransport against endpoints that fail (real HTTP on loopback)', () => {
  let server: http.Server;
  let port: number;

  beforeAll(async () => {
    // Reads the whole request, then closes the connection unanswered: SES may have taken it.
    server = http.createServer((req) => {
      req.resume();
      req.on('end', () => req.socket.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as net.AddressInfo).port;
  });
  afterEach(() => {
    delete process.env.AWS_ENDPOINT_URL_SESV2;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const sendVia = async (endpoint: string, message = mail) => {
    process.env.AWS_ENDPOINT_URL_SESV2 = endpoint;
    const transport = new SesTransport(provider, SECRET, config);
    try {
      return failureOf(await transport.send(message).catch((e: unknown) => e));
    } finally {
      transport.close();
    }
  };

  it('should call a connection closed after the whole request uncertain', async () => {
    expect(await sendVia(`http://127.0.0.1:${port}`)).toMatchObject({ kind: 'uncertain', code: 'ECONNRESET', responseCode: null });
  });

  it('should call a refused connection the provider’s failure', async () => {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const closed = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    expect(await sendVia(`http://127.0.0.1:${closed}`)).toMatchObject({ kind: 'provider', code: 'ECONNREFUSED', responseCode: null });
  });

  it('should call a connection reset while the request was still being written the provider’s failure', async () => {
    // Resets the connection at the first bytes: a large request cannot all have been written.
    const resetting = net.createServer((socket) => socket.once('data', () => socket.resetAndDestroy()));
    await new Promise<void>((resolve) => resetting.listen(0, '127.0.0.1', resolve));
    try {
      const big = { ...mail, attachments: [{ filename: 'big.bin', content: Buffer.alloc(16 * 1024 * 1024, 7), contentType: null }] };
      const endpoint = `http://127.0.0.1:${(resetting.address() as net.AddressInfo).port}`;
      expect(await sendVia(endpoint, big)).toMatchObject({ kind: 'provider', responseCode: null });
    } finally {
      await new Promise<void>((resolve) => resetting.close(() => resolve()));
    }
  });
});
