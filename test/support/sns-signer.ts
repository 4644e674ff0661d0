import { createSign, randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';

export type SnsMessage = Record<string, string | undefined>;

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/**
 * Stands in for Amazon SNS: a CA of its own, an HTTPS server on 127.0.0.1 with a certificate
 * from that CA serving the signing certificate (and answering subscription confirmations), and
 * the signing key. The app trusts the CA through SNS_CERT_CA_FILE and takes 127.0.0.1:<port> for
 * SNS's host through SNS_CERT_HOST_PATTERN (`env()`).
 *
 * The canonical string is built here from AWS's documentation, independently of the app's.
 */
export class FakeSns {
  /** Paths (with query) of every request the server received, in order. */
  readonly requests: string[] = [];

  private constructor(
    private readonly dir: string,
    private readonly server: https.Server,
    private readonly signingKey: string,
    /** A key whose certificate nobody serves: what a forger signs with. */
    readonly otherKey: string,
  ) {}

  static async start(): Promise<FakeSns> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fake-sns-'));
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    openssl(dir, ['req', '-x509', ...ec, '-days', '2', '-subj', '/CN=Test SNS CA', '-keyout', 'ca.key', '-out', 'ca.pem']);
    openssl(dir, ['req', ...ec, '-subj', '/CN=127.0.0.1', '-keyout', 'server.key', '-out', 'server.csr']);
    fs.writeFileSync(path.join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
    openssl(dir, [
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      'san.ext',
      '-out',
      'server.pem',
    ]);
    // SNS signs with RSA (SHA1withRSA for SignatureVersion 1, SHA256withRSA for 2).
    const rsa = ['-newkey', 'rsa:2048', '-nodes', '-days', '2'];
    openssl(dir, ['req', '-x509', ...rsa, '-subj', '/CN=sns.amazonaws.com', '-keyout', 'signing.key', '-out', 'signing.pem']);
    openssl(dir, ['req', '-x509', ...rsa, '-subj', '/CN=forger', '-keyout', 'other.key', '-out', 'other.pem']);
    const read = (name: string) => fs.readFileSync(path.join(dir, name), 'utf8');
    const signingCert = read('signing.pem');
    let fake: FakeSns | undefined;
    const server = https.createServer({ key: read('server.key'), cert: read('server.pem') }, (req, res) => {
      fake?.requests.push(req.url ?? '');
      const url = new URL(req.url ?? '/', 'https://127.0.0.1');
      if (req.method === 'GET' && url.pathname === '/SimpleNotificationService-test.pem') {
        res.writeHead(200, { 'content-type': 'application/x-x509-ca-cert' }).end(signingCert);
      } else if (req.method === 'GET' && url.searchParams.get('Action') === 'ConfirmSubscription') {
        res.writeHead(200, { 'content-type': 'text/xml' }).end('<ConfirmSubscriptionResponse/>');
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    fake = new FakeSns(dir, server, read('signing.key'), read('other.key'));
    return fake;
  }

  get origin(): string {
    return `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  get certificateUrl(): string {
    return `${this.origin}/SimpleNotificationService-test.pem`;
  }

  /** The test-only settings that make the app take this server for SNS. */
  env(): Record<string, string> {
    return { SNS_CERT_HOST_PATTERN: '^127\\.0\\.0\\.1:\\d+$', SNS_CERT_CA_FILE: path.join(this.dir, 'ca.pem') };
  }

  /** A Notification around `message` (SES's JSON), signed. */
  notification(message: unknown, overrides: SnsMessage = {}, version: '1' | '2' = '1'): SnsMessage {
    return this.sign(
      {
        Type: 'Notification',
        MessageId: randomUUID(),
        TopicArn: 'arn:aws:sns:us-west-2:123456789012:ses-feedback',
        Message: typeof message === 'string' ? message : JSON.stringify(message),
        Timestamp: new Date().toISOString(),
        SignatureVersion: version,
        SigningCertURL: this.certificateUrl,
        UnsubscribeURL: `${this.origin}/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:us-west-2:123456789012:ses-feedback:c9135db0`,
        ...overrides,
      },
      this.signingKey,
    );
  }

  /** Signs the canonical string of `m` with `key` by m.SignatureVersion's algorithm. */
  sign(m: SnsMessage, key = this.signingKey): SnsMessage {
    const algorithm = m.SignatureVersion === '2' ? 'RSA-SHA256' : 'RSA-SHA1';
    return { ...m, Signature: createSign(algorithm).update(canonical(m)).sign(key, 'base64') };
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** AWS: "Verifying the signatures of Amazon SNS messages": name and value on lines of their own, in byte order of the names. */
function canonical(m: SnsMessage): string {
  const names =
    m.Type === 'Notification'
      ? ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type']
      : ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'];
  return names
    .filter((n) => m[n] !== undefined)
    .map((n) => `${n}\n${m[n]}\n`)
    .join('');
}
