import net from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerAddress, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { testCertificate } from './tls.js';

/** An SMTP reply a fault answers with; `code` 4xx or 5xx. */
export interface SmtpReply {
  code: number;
  message: string;
}

/**
 * What the server does wrong, step by step. Each step is looked up when the client reaches it,
 * so `setFaults()` changes the behaviour of connections already open too.
 */
export interface FaultPlan {
  /** `refuse-421` greets with "421 … try again in 30 seconds" and closes; `never-greet` accepts TCP (and TLS) and stays silent. */
  onConnect?: 'refuse-421' | 'never-greet';
  /**
   * `fail-535` answers every AUTH with 535, whatever the credentials; a function sees what the
   * client sent (decoded) and may answer with a reply of its own, as a server echoing them would.
   */
  onAuth?: 'fail-535' | ((auth: { method: string; username: string; password: string }) => SmtpReply | undefined);
  /** A reply refuses the sender; `disconnect` and `hang` fail the session before any message byte was sent. */
  onMailFrom?: SmtpReply | 'disconnect' | 'hang';
  /** Called with each RCPT TO address; a reply rejects that recipient. */
  onRcpt?: (address: string) => SmtpReply | undefined;
  /**
   * After the final "." of DATA: `disconnect-after-data` and `hang-after-data` read the whole
   * message, keep it in `received`, then drop the connection or never answer (the client cannot
   * know whether it was delivered; FINDINGS.md).
   */
  onData?: 'reject-550' | 'tempfail-451' | 'disconnect-after-data' | 'hang-after-data' | SmtpReply;
}

export interface TestSmtpServerOptions {
  /** The loopback address to listen on; default 127.0.0.1 (tests of the outbound host policy use others). */
  host?: string;
  /** The only credentials AUTH PLAIN/LOGIN accept; without them AUTH is not offered. */
  auth?: { user: string; pass: string };
  /** The mechanisms offered, in this order (nodemailer takes the first); default PLAIN then LOGIN. */
  authMethods?: ('PLAIN' | 'LOGIN')[];
  /** Implicit TLS from the first byte (port 465 style). */
  secure?: boolean;
  /** Offer STARTTLS; AUTH is then refused until the client upgraded. */
  starttls?: boolean;
  /** MAIL FROM is refused with 530 until the client logged in. */
  requireAuth?: boolean;
  faults?: FaultPlan;
  /**
   * A slow server: waits this long after the final "." of DATA before keeping the message and
   * answering, so that messages are in flight (the client has sent them, the server not yet
   * acknowledged). A client that goes away meanwhile still leaves the message in `received`,
   * as a real server that already queued it would. `setDataDelay()` changes it later.
   */
  onDataDelayMs?: number;
}

export interface ReceivedMessage {
  envelope: { from: string | null; to: string[] };
  /** The name the client gave in EHLO/HELO (nodemailer sends its `name` option). */
  helo: string;
  /** The user that logged in on the session, if any. */
  user: string | null;
  /** Whether the session ran over TLS (implicit or after STARTTLS). */
  secure: boolean;
  /** Why the server kept a message it did not acknowledge: the `onData` fault in force, else null. */
  unacknowledged: 'disconnect-after-data' | 'hang-after-data' | null;
  raw: Buffer;
  /** mailparser's view: headers, subject, text, html, attachments, messageId. */
  parsed: ParsedMail;
}

const REPLIES = {
  'refuse-421': { code: 421, message: 'Service not available, try again in 30 seconds' },
  'reject-550': { code: 550, message: 'Message rejected as spam' },
  'tempfail-451': { code: 451, message: 'Temporary local problem, retry in 5 minutes' },
  'fail-535': { code: 535, message: 'Authentication credentials invalid' },
} as const;

function replyError(reply: SmtpReply): Error {
  return Object.assign(new Error(reply.message), { responseCode: reply.code });
}

/**
 * A real SMTP server (the `smtp-server` package) on 127.0.0.1 (or `host`) and a free port, in this process,
 * that keeps what it receives and misbehaves on demand. Mind its 100 ms wait before every greeting
 * (FINDINGS.md): pool connections when sending many messages.
 *
 * A client trusts its certificate by `tls: { ca: testCertificate().cert }`.
 */
export class TestSmtpServer {
  readonly host: string;
  port = 0;
  readonly received: ReceivedMessage[] = [];
  /** DATA transactions read in full and not yet answered (held by `onDataDelayMs`). */
  inFlight = 0;
  /** TCP connections accepted so far. */
  connections = 0;
  /** Every AUTH the server was given (the mechanism and user; the password is never kept), accepted or not. */
  readonly authAttempts: { method: string; username: string }[] = [];
  private faults: FaultPlan;
  private dataDelayMs: number;
  private readonly server: SMTPServer;
  private readonly arrivals = new Set<() => void>();

  private constructor(private readonly options: TestSmtpServerOptions) {
    this.host = options.host ?? '127.0.0.1';
    this.faults = options.faults ?? {};
    this.dataDelayMs = options.onDataDelayMs ?? 0;
    const tls = options.secure || options.starttls ? testCertificate() : undefined;
    this.server = new SMTPServer({
      secure: options.secure ?? false,
      key: tls?.key,
      cert: tls?.cert,
      hideSTARTTLS: !options.starttls,
      authMethods: options.authMethods ?? ['PLAIN', 'LOGIN'],
      // smtp-server would still upgrade on an unadvertised STARTTLS; a server without it refuses the command.
      disabledCommands: [...(options.auth ? [] : ['AUTH']), ...(options.starttls ? [] : ['STARTTLS'])],
      authOptional: !options.requireAuth,
      // A plain-text-only server would otherwise refuse every AUTH with 538.
      allowInsecureAuth: !options.secure && !options.starttls,
      disableReverseLookup: true,
      logger: false,
      closeTimeout: 100,
      onConnect: (session, callback) => this.onConnect(session, callback),
      onAuth: (auth, session, callback) => {
        this.authAttempts.push({ method: auth.method, username: auth.username ?? '' });
        const fault = this.faults.onAuth;
        const reply =
          typeof fault === 'function'
            ? fault({ method: auth.method, username: auth.username ?? '', password: auth.password ?? '' })
            : undefined;
        if (reply) return callback(replyError(reply));
        if (fault === 'fail-535' || !this.options.auth) return callback(replyError(REPLIES['fail-535']));
        const ok = auth.username === this.options.auth.user && auth.password === this.options.auth.pass;
        return ok ? callback(null, { user: auth.username }) : callback(replyError(REPLIES['fail-535']));
      },
      onMailFrom: (_address, session, callback) => {
        const fault = this.faults.onMailFrom;
        if (fault === 'hang') return;
        if (fault === 'disconnect') return this.dropSession(session);
        callback(fault ? replyError(fault) : null);
      },
      onRcptTo: (address: SMTPServerAddress, _session, callback) => {
        const reply = this.faults.onRcpt?.(address.address);
        callback(reply ? replyError(reply) : null);
      },
      onData: (stream, session, callback) => void this.onData(stream, session, callback).catch((err: Error) => callback(err)),
    });
    // Clients dropping connections (which several faults provoke) surface here; they are expected.
    this.server.on('error', () => undefined);
  }

  static async start(options: TestSmtpServerOptions = {}): Promise<TestSmtpServer> {
    const server = new TestSmtpServer(options);
    await new Promise<void>((resolve, reject) => {
      server.server.server.once('error', reject);
      server.server.listen(0, server.host, () => resolve());
    });
    server.port = (server.server.server.address() as net.AddressInfo).port;
    return server;
  }

  setFaults(faults: FaultPlan): void {
    this.faults = faults;
  }

  /** Sets the wait before each DATA is kept and answered (0: answer at once). */
  setDataDelay(ms: number): void {
    this.dataDelayMs = ms;
  }

  /** Resolves once `count` DATA transactions are held in flight at the same time, or rejects after `timeoutMs`. */
  async waitForInFlight(count: number, timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.inFlight < count) {
      if (Date.now() > deadline)
        throw new Error(`expected ${count} DATA transaction(s) in flight within ${timeoutMs} ms, saw ${this.inFlight}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Resolves with the first `count` messages received, or rejects after `timeoutMs`. */
  async waitForMessages(count: number, timeoutMs = 5_000): Promise<ReceivedMessage[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`expected ${count} message(s) within ${timeoutMs} ms, received ${this.received.length}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, left);
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.arrivals.add(done);
      });
    }
    return this.received.slice(0, count);
  }

  /** An outage: stops listening (connections are refused) and drops every open session, until `comeBack()`. */
  async goDown(): Promise<void> {
    for (const connection of this.server.connections) connection._socket.destroy();
    await new Promise<void>((resolve) => this.server.server.close(() => resolve()));
  }

  /** Listens again on the same port after `goDown()`. */
  async comeBack(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.server.once('error', reject);
      this.server.server.listen(this.port, this.host, () => {
        this.server.server.off('error', reject);
        resolve();
      });
    });
  }

  /** Stops listening and drops every open session at once, hanging ones included. */
  async close(): Promise<void> {
    for (const connection of this.server.connections) connection._socket.destroy();
    if (!this.server.server.listening) return; // down (`goDown()`) and never back
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Closes the session's socket without a word, as a crashed server or a middlebox would. */
  private dropSession(session: SMTPServerSession): void {
    for (const connection of this.server.connections) if (connection.session === session) connection._socket.destroy();
  }

  private onConnect(_session: SMTPServerSession, callback: (err?: Error | null) => void): void {
    this.connections += 1;
    if (this.faults.onConnect === 'never-greet') return; // smtp-server greets only once this calls back
    callback(this.faults.onConnect === 'refuse-421' ? replyError(REPLIES['refuse-421']) : null);
  }

  private async onData(
    stream: SMTPServerDataStream,
    session: SMTPServerSession,
    callback: (err?: Error | null, message?: string) => void,
  ): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    if (this.dataDelayMs > 0) {
      this.inFlight += 1;
      await new Promise((r) => setTimeout(r, this.dataDelayMs));
      this.inFlight -= 1;
    }
    const fault = this.faults.onData;
    const reply = typeof fault === 'object' ? fault : fault === 'reject-550' || fault === 'tempfail-451' ? REPLIES[fault] : undefined;
    if (reply && reply.code >= 400) return callback(replyError(reply));

    const unacknowledged = fault === 'disconnect-after-data' || fault === 'hang-after-data' ? fault : null;
    const raw = Buffer.concat(chunks);
    this.received.push({
      envelope: {
        from: session.envelope.mailFrom ? session.envelope.mailFrom.address : null,
        to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
      },
      helo: session.hostNameAppearsAs,
      user: typeof session.user === 'string' ? session.user : null,
      secure: session.secure,
      unacknowledged,
      raw,
      parsed: await simpleParser(raw),
    });
    for (const arrived of [...this.arrivals]) arrived();
    this.arrivals.clear();

    if (unacknowledged === 'disconnect-after-data') return this.dropSession(session);
    if (unacknowledged === 'hang-after-data') return;
    callback(null, reply ? reply.message : 'Message queued');
  }
}

/** A loopback port with nothing listening on it: connecting is refused (ECONNREFUSED). */
export async function closedPort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** Servers a test file starts as it goes, closed together after each test: `afterEach(servers.closeAll)`. */
export function smtpServers(): { start(options?: TestSmtpServerOptions): Promise<TestSmtpServer>; closeAll(): Promise<void> } {
  const open: TestSmtpServer[] = [];
  return {
    async start(options = {}) {
      const s = await TestSmtpServer.start(options);
      open.push(s);
      return s;
    },
    async closeAll() {
      await Promise.all(open.splice(0).map((s) => s.close()));
    },
  };
}
