import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface TestCertificate {
  /** PEM private key of the test servers. */
  key: string;
  /** PEM self-signed certificate for 127.0.0.1 and localhost; clients trust it with nodemailer's `tls: { ca: cert }`. */
  cert: string;
  /** The certificate as a file, for NODE_EXTRA_CA_CERTS or a server in another process. */
  caFile: string;
  keyFile: string;
}

let cached: TestCertificate | undefined;

/**
 * A self-signed certificate made with `openssl` once per process (smtp-server's built-in one has
 * expired; FINDINGS.md). Clients verify it as usual by being given it as their CA, never with
 * `rejectUnauthorized: false`.
 *
 * Jest loads this module afresh for every test file, so the files are kept in a folder named
 * after the process and reused by later test files of the same worker.
 */
export function testCertificate(): TestCertificate {
  if (cached) return cached;
  const dir = path.join(os.tmpdir(), `eps-test-tls-${process.pid}`);
  const keyFile = path.join(dir, 'key.pem');
  const caFile = path.join(dir, 'cert.pem');
  if (!fs.existsSync(caFile)) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const tmpKey = `${keyFile}.${process.hrtime.bigint()}`;
    const tmpCert = `${caFile}.${process.hrtime.bigint()}`;
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '2',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
        '-keyout',
        tmpKey,
        '-out',
        tmpCert,
      ],
      { stdio: 'pipe' },
    );
    // Renamed into place so a test file starting meanwhile never reads half a file.
    fs.renameSync(tmpKey, keyFile);
    fs.renameSync(tmpCert, caFile);
    process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  }
  cached = { key: fs.readFileSync(keyFile, 'utf8'), cert: fs.readFileSync(caFile, 'utf8'), caFile, keyFile };
  return cached;
}
