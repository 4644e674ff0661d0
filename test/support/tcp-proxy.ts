import net from 'node:net';
import { provisionServerDatabase, type TestDatabase } from './database.js';

/** One proxied connection: the client's socket, the upstream socket, and what waits while frozen. */
interface Pipe {
  client: net.Socket;
  upstream: net.Socket;
  held: { to: net.Socket; chunk: Buffer }[];
}

/**
 * A TCP proxy on 127.0.0.1 and a free port in this process, in front of a server the test must
 * not disturb (the shared PostgreSQL), that plays that server's faults on demand:
 * - `refuse()`: as a stopped server. Stops listening (new connections get ECONNREFUSED) and
 *   drops every open connection.
 * - `freeze()`: as a server under SIGSTOP. Connections stay open and new ones are accepted, but
 *   no byte moves either way; what is sent meanwhile is held, and delivered on `resume()`.
 * - `reset()`: a connection reset, as a crashed server or a firewall dropping state answers.
 *   Every open connection is aborted with a TCP RST (the client sees ECONNRESET); new ones pass.
 * - `resume()`: back to forwarding, listening again on the same port.
 */
export class TcpProxy {
  port = 0;
  private state: 'forwarding' | 'frozen' | 'refusing' = 'forwarding';
  private readonly pipes = new Set<Pipe>();
  private server: net.Server;

  private constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {
    this.server = this.createServer();
  }

  static async start(target: { host: string; port: number }): Promise<TcpProxy> {
    const proxy = new TcpProxy(target.host, target.port);
    await proxy.listen(0);
    return proxy;
  }

  /** How many connections pass through the proxy now. */
  get connections(): number {
    return this.pipes.size;
  }

  async refuse(): Promise<void> {
    this.state = 'refusing';
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const pipe of this.pipes) this.drop(pipe);
    await closed;
  }

  reset(): void {
    for (const pipe of this.pipes) {
      this.pipes.delete(pipe);
      pipe.client.resetAndDestroy();
      pipe.upstream.destroy();
    }
  }

  freeze(): void {
    this.state = 'frozen';
  }

  async resume(): Promise<void> {
    const wasRefusing = this.state === 'refusing';
    this.state = 'forwarding';
    if (wasRefusing) {
      this.server = this.createServer();
      await this.listen(this.port);
    }
    for (const pipe of this.pipes) for (const { to, chunk } of pipe.held.splice(0)) to.write(chunk);
  }

  async close(): Promise<void> {
    for (const pipe of this.pipes) this.drop(pipe);
    if (this.server.listening) await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private createServer(): net.Server {
    return net.createServer((client) => this.accept(client));
  }

  private async listen(port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  private accept(client: net.Socket): void {
    const upstream = net.connect(this.targetPort, this.targetHost);
    const pipe: Pipe = { client, upstream, held: [] };
    this.pipes.add(pipe);
    const forward = (to: net.Socket) => (chunk: Buffer) => {
      if (this.state === 'frozen') pipe.held.push({ to, chunk });
      else to.write(chunk);
    };
    client.on('data', forward(upstream));
    upstream.on('data', forward(client));
    for (const socket of [client, upstream]) {
      socket.on('error', () => this.drop(pipe));
      socket.on('close', () => this.drop(pipe));
    }
  }

  private drop(pipe: Pipe): void {
    if (!this.pipes.delete(pipe)) return;
    pipe.client.destroy();
    pipe.upstream.destroy();
  }
}

/**
 * A new database on the local PostgreSQL server, reached through a TcpProxy this test controls:
 * `url` is its DATABASE_URL by way of the proxy. The shared server itself is never disturbed.
 */
export async function proxiedServerDatabase(): Promise<{ db: TestDatabase; proxy: TcpProxy; url: string }> {
  const db = await provisionServerDatabase();
  const url = new URL(db.env.DATABASE_URL as string);
  const proxy = await TcpProxy.start({ host: url.hostname, port: Number(url.port || 5432) });
  url.hostname = '127.0.0.1';
  url.port = String(proxy.port);
  return { db, proxy, url: url.toString() };
}
