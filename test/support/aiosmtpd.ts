import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { simpleParser, type ParsedMail } from 'mailparser';
import { testCertificate } from './tls.js';

/** Debian's interpreter: the `python3` first on PATH may be another one without Debian's packages (FINDINGS.md). */
const PYTHON = '/usr/bin/python3';

/**
 * The server, in Python: STARTTLS required before anything else, AUTH PLAIN/LOGIN required, each
 * message saved as `<n>.eml` plus `<n>.json` (envelope), renamed into place so a reader never sees
 * half a file. Credentials come through the environment, not the command line. It exits when its
 * standard input closes, so it cannot outlive the test process.
 */
const SERVER_SCRIPT = String.raw`
import json, os, socket, ssl, sys, threading
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

out_dir = os.environ['SMTPD_OUT_DIR']
user = os.environ['SMTPD_USER'].encode()
password = os.environ['SMTPD_PASS'].encode()

def authenticator(server, session, envelope, mechanism, auth_data):
    if auth_data.login == user and auth_data.password == password:
        return AuthResult(success=True, auth_data=auth_data)
    # handled=False lets aiosmtpd answer 535; handled=True would leave the client waiting (FINDINGS.md)
    return AuthResult(success=False, handled=False)

class SaveToFolder:
    def __init__(self):
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
            name = os.path.join(out_dir, '%06d' % self.count)
        content = envelope.original_content or envelope.content
        meta = {'mail_from': envelope.mail_from, 'rcpt_tos': envelope.rcpt_tos,
                'login': session.login_data.decode() if isinstance(session.login_data, bytes) else None}
        with open(name + '.json.tmp', 'w') as f:
            json.dump(meta, f)
        with open(name + '.eml.tmp', 'wb') as f:
            f.write(content)
        os.rename(name + '.json.tmp', name + '.json')
        os.rename(name + '.eml.tmp', name + '.eml')
        return '250 Message accepted for delivery'

context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(os.environ['SMTPD_CERT'], os.environ['SMTPD_KEY'])

probe = socket.socket()
probe.bind(('127.0.0.1', 0))
port = probe.getsockname()[1]
probe.close()

controller = Controller(SaveToFolder(), hostname='127.0.0.1', port=port, server_hostname='localhost',
                        tls_context=context, require_starttls=True, auth_required=True,
                        auth_require_tls=True, authenticator=authenticator)
controller.start()
print('READY %d' % port, flush=True)
sys.stdin.read()
controller.stop()
`;

export interface AiosmtpdMessage {
  envelope: { from: string; to: string[] };
  /** The user that logged in, as aiosmtpd recorded it. */
  user: string | null;
  parsed: ParsedMail;
}

/**
 * Debian's python3-aiosmtpd as an SMTP server independent of the one nodemailer's author also
 * wrote (CI's .ci/run installs it). Requires STARTTLS, then AUTH with the given credentials.
 * Clients use `requireTLS: true` and trust `testCertificate().cert` as CA.
 */
export class AiosmtpdServer {
  readonly host = '127.0.0.1' as const;

  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    private readonly dir: string,
  ) {}

  static async start(auth: { user: string; pass: string }, startTimeoutMs = 10_000): Promise<AiosmtpdServer> {
    if (!fs.existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: apt-get install -y python3-aiosmtpd`);
    const tls = testCertificate();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eps-aiosmtpd-'));
    const child = spawn(PYTHON, ['-c', SERVER_SCRIPT], {
      env: {
        PATH: process.env.PATH,
        SMTPD_OUT_DIR: dir,
        SMTPD_USER: auth.user,
        SMTPD_PASS: auth.pass,
        SMTPD_CERT: tls.caFile,
        SMTPD_KEY: tls.keyFile,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    try {
      const port = await readyPort(child, startTimeoutMs);
      await waitUntilAccepting(port, startTimeoutMs);
      return new AiosmtpdServer(child, port, dir);
    } catch (err) {
      await stopChild(child);
      fs.rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** Every message saved so far, in arrival order, parsed with mailparser. */
  async received(): Promise<AiosmtpdMessage[]> {
    const names = fs
      .readdirSync(this.dir)
      .filter((name) => name.endsWith('.eml'))
      .sort();
    return Promise.all(
      names.map(async (name) => {
        const base = path.join(this.dir, name.slice(0, -'.eml'.length));
        const meta = JSON.parse(fs.readFileSync(`${base}.json`, 'utf8')) as { mail_from: string; rcpt_tos: string[]; login: string | null };
        return {
          envelope: { from: meta.mail_from, to: meta.rcpt_tos },
          user: meta.login,
          parsed: await simpleParser(fs.readFileSync(`${base}.eml`)),
        };
      }),
    );
  }

  async stop(): Promise<void> {
    await stopChild(this.child);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

function readyPort(child: ChildProcess, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    const fail = (why: string) => {
      clearTimeout(timer);
      reject(new Error(`aiosmtpd did not start: ${why}\n${stderr}`));
    };
    const timer = setTimeout(() => fail(`no READY line within ${timeoutMs} ms`), timeoutMs);
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /READY (\d+)/.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once('error', (err) => fail(err.message));
    child.once('exit', (code, signal) => fail(`exited with ${code ?? signal}`));
  });
}

async function waitUntilAccepting(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const accepted = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (accepted) return;
    if (Date.now() > deadline) throw new Error(`aiosmtpd port ${port} does not accept connections`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Closes its standard input (it then stops by itself), and kills it if it has not gone within 2 s. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.stdin?.end();
  const killer = setTimeout(() => child.kill('SIGKILL'), 2_000);
  child.kill('SIGTERM');
  await exited;
  clearTimeout(killer);
}
