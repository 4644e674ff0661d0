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

const BASE = path.join(os.tmpdir(), 'eps-test-tls');
const VALID_DAYS = 3;

let cached: TestCertificate | undefined;

/**
 * A self-signed certificate made with `openssl` (smtp-server's built-in one has expired;
 * FINDINGS.md). Clients verify it as usual by being given it as their CA, never with
 * `rejectUnauthorized: false`.
 *
 * Made once a day and shared by every test process of the day: jest loads this module afresh for
 * each test file and runs files in parallel workers, and its sandbox never sees the process exit
 * to clean up after itself. A new one is built in a folder of its own and renamed into place, so
 * parallel workers never mix one key with another certificate.
 */
export function testCertificate(): TestCertificate {
  if (cached) return cached;
  const today = new Date().toISOString().slice(0, 10);
  const dir = path.join(BASE, today);
  if (!fs.existsSync(path.join(dir, 'cert.pem'))) {
    fs.mkdirSync(BASE, { recursive: true, mode: 0o700 });
    const building = fs.mkdtempSync(path.join(BASE, 'building-'));
    generate(building);
    try {
      fs.renameSync(building, dir);
    } catch {
      fs.rmSync(building, { recursive: true, force: true }); // another worker got there first
    }
    removeOlderThanYesterday(today);
  }
  const keyFile = path.join(dir, 'key.pem');
  const caFile = path.join(dir, 'cert.pem');
  cached = { key: fs.readFileSync(keyFile, 'utf8'), cert: fs.readFileSync(caFile, 'utf8'), caFile, keyFile };
  return cached;
}

function generate(dir: string): void {
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
      String(VALID_DAYS),
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout',
      path.join(dir, 'key.pem'),
      '-out',
      path.join(dir, 'cert.pem'),
    ],
    { stdio: 'pipe' },
  );
}

/** Yesterday's may still be in use by a run that started before midnight. */
function removeOlderThanYesterday(today: string): void {
  const yesterday = new Date(Date.parse(today) - 86_400_000).toISOString().slice(0, 10);
  for (const name of fs.readdirSync(BASE)) {
    if (/^\d{4}-\d{2}-\d{2}$/.test(name) && name < yesterday) fs.rmSync(path.join(BASE, name), { recursive: true, force: true });
  }
}
