/**
 * A counting SMTP sink for the benchmarks, run as a CHILD process (so that its work never shares
 * a thread with the sender being measured). It keeps nothing but counts and the times of the
 * first and last message, and talks to its parent over IPC:
 *   → { port }                       once listening on 127.0.0.1
 *   ← 'reset'                        zero the counts
 *   ← { notifyAt: n }                → { reached: n, count, first, last } once n messages arrived
 *   ← 'stats'                        → { count, bytes, connections, first, last }
 * smtp-server greets after 100 ms on every new connection (not configurable; FINDINGS.md).
 */
import { SMTPServer } from 'smtp-server';
import type { AddressInfo } from 'node:net';

let count = 0;
let bytes = 0;
let connections = 0;
let first = 0;
let last = 0;
let notifyAt: number | null = null;

const send = (m: unknown) => process.send?.(m);

function check(): void {
  if (notifyAt !== null && count >= notifyAt) {
    send({ reached: notifyAt, count, first, last });
    notifyAt = null;
  }
}

const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['AUTH', 'STARTTLS'],
  hideSTARTTLS: true,
  disableReverseLookup: true,
  logger: false,
  maxClients: 1000,
  onConnect(_session, callback) {
    connections += 1;
    callback();
  },
  onData(stream, _session, callback) {
    stream.on('data', (chunk: Buffer) => (bytes += chunk.length));
    stream.on('end', () => {
      const now = Date.now();
      if (count === 0) first = now;
      last = now;
      count += 1;
      callback(null, 'OK');
      check();
    });
  },
});
server.on('error', () => undefined);

process.on('message', (m: unknown) => {
  if (m === 'reset') {
    count = bytes = connections = first = last = 0;
    notifyAt = null;
  } else if (m === 'stats') {
    send({ count, bytes, connections, first, last });
  } else if (m && typeof m === 'object' && 'notifyAt' in m) {
    notifyAt = (m as { notifyAt: number }).notifyAt;
    check();
  }
});
process.on('disconnect', () => process.exit(0));

server.listen(0, '127.0.0.1', () => send({ port: (server.server.address() as AddressInfo).port }));
