import { isFQDN } from 'class-validator';
import dns from 'node:dns/promises';
import net from 'node:net';
import ipaddr from 'ipaddr.js';

type Address = ipaddr.IPv4 | ipaddr.IPv6;

/** What OUTBOUND_ALLOW lets through beside public unicast addresses. */
export interface OutboundAllowList {
  cidrs: [Address, number][];
  /** Exact host names, lower case, without a trailing dot. */
  names: Set<string>;
  /** From `*.suffix` entries: any name ending in `.suffix`. */
  suffixes: string[];
}

/** A resolver with `dns.lookup`'s `{ all: true }` answer; the OS resolver unless a test hands in another. */
export type LookupAll = (host: string) => Promise<{ address: string; family: number }[]>;

/** The one error code a refused destination carries, at save and at connect alike. */
export const OUTBOUND_DENIED = 'EOUTBOUND_DENIED';

/** Ranges no OUTBOUND_ALLOW entry opens: link-local (cloud metadata lives there), and addresses that are not one host. */
const NEVER_RANGES = new Set(['linkLocal', 'unspecified', 'broadcast', 'multicast']);
/** Cloud metadata services outside 169.254/16: AWS's IPv6 one (fd00:ec2::254), Alibaba's (100.100.100.200). */
const METADATA: [Address, number][] = [ipaddr.parseCIDR('fd00:ec2::254/128'), ipaddr.parseCIDR('100.100.100.200/32')];

const RANGE_WORDS: Record<string, string> = {
  loopback: 'a loopback address',
  private: 'a private network address',
  uniqueLocal: 'a private network address',
  carrierGradeNat: 'a carrier-grade NAT address',
  linkLocal: 'a link-local address',
  metadata: 'a cloud metadata address',
  unspecified: 'the unspecified address',
  broadcast: 'the broadcast address',
  multicast: 'a multicast address',
  reserved: 'a reserved address',
  unparsable: 'an address that cannot be checked',
};

const hostKey = (host: string) => host.trim().toLowerCase().replace(/\.$/, '');
const isHostName = (v: string) =>
  isFQDN(v, { require_tld: false, allow_underscores: true, allow_trailing_dot: true }) && !ipaddr.isValid(v) && !/^[\d.]+$/.test(v);
/** A plain IP address (four-part decimal IPv4 or IPv6); loose forms (`127.1`, `0x7f…`) are not accepted in the setting. */
const isPlainIp = (v: string) => ipaddr.IPv4.isValidFourPartDecimal(v) || ipaddr.IPv6.isValid(v);

/**
 * Parses OUTBOUND_ALLOW: comma-separated IP addresses, CIDR ranges, host names and `*.suffix`
 * patterns. Throws an Error naming the first entry that is none of these.
 */
export function parseOutboundAllow(raw: string | undefined): OutboundAllowList {
  const list: OutboundAllowList = { cidrs: [], names: new Set(), suffixes: [] };
  for (const entry of (raw ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)) {
    const [addr, bits, extra] = entry.split('/');
    if (bits !== undefined && extra === undefined && isPlainIp(addr) && /^\d{1,3}$/.test(bits) && ipaddr.isValidCIDR(entry))
      list.cidrs.push(ipaddr.parseCIDR(entry));
    else if (bits === undefined && isPlainIp(entry)) {
      const ip = ipaddr.parse(entry);
      list.cidrs.push([ip, ip.kind() === 'ipv4' ? 32 : 128]);
    } else if (entry.startsWith('*.') && isHostName(entry.slice(2))) list.suffixes.push(hostKey(entry.slice(2)));
    else if (bits === undefined && isHostName(entry)) list.names.add(hostKey(entry));
    else throw new Error(`entry '${entry}' is not an IP address (a.b.c.d or IPv6), a CIDR range, a host name or a *.suffix pattern`);
  }
  return list;
}

/** A destination the policy refuses; nothing was connected to. */
export class OutboundDeniedError extends Error {
  readonly code = OUTBOUND_DENIED;

  constructor(
    readonly host: string,
    /** ipaddr.js's name of the range (`loopback`, `private`, …), or `metadata`. */
    readonly range: string,
    readonly resolved: boolean,
  ) {
    const what = RANGE_WORDS[range] ?? 'a special-purpose address';
    const always = NEVER_RANGES.has(range) || range === 'metadata';
    super(
      `Connections to this host are not allowed: it ${resolved ? 'resolves to' : 'is'} ${what}` +
        (always ? ', which is never allowed.' : ' (an operator can allow it with OUTBOUND_ALLOW).'),
    );
    this.name = 'OutboundDeniedError';
  }
}

/** A destination that passed the policy: connect to `addresses[…]`, verify TLS against `servername`. */
export interface OutboundTarget {
  host: string;
  /** Every address the name resolved to, each checked, in the resolver's order (IPv4-mapped IPv6 as IPv4). */
  addresses: string[];
  /** The host name for SNI and certificate checks; undefined when the host is itself an IP address (in any spelling). */
  servername: string | undefined;
}

/** The name could not be resolved (so nothing was checked, and nothing may be connected to). */
export class OutboundLookupError extends Error {
  readonly code = 'EDNS';

  constructor(
    readonly host: string,
    readonly originalCode: string,
  ) {
    super(`DNS lookup for ${host} failed: ${originalCode}`);
    this.name = 'OutboundLookupError';
  }
}

const systemLookup: LookupAll = (host) => dns.lookup(host, { all: true, verbatim: true });

/**
 * The one policy for every outbound connection to a host an API user chose (SMTP providers'
 * `smtp_host`; webhook URLs later). Public unicast addresses are allowed; loopback, private,
 * carrier-grade NAT, link-local, unspecified, multicast, broadcast and every other special range
 * (ipaddr.js's list) are denied unless OUTBOUND_ALLOW lists them — link-local, cloud metadata,
 * unspecified, multicast and broadcast stay denied even then.
 *
 * Callers resolve once with `resolve()`, which checks every address the name has, and connect to
 * one of the returned addresses (never to the name, which could resolve differently a moment later).
 */
export class OutboundPolicy {
  private readonly lookup: LookupAll;
  private readonly lookupTimeoutMs: number;

  constructor(
    private readonly allow: OutboundAllowList,
    options: { lookup?: LookupAll; lookupTimeoutMs?: number } = {},
  ) {
    this.lookup = options.lookup ?? systemLookup;
    this.lookupTimeoutMs = options.lookupTimeoutMs ?? 5_000;
  }

  /** Why an address reached through `host` is refused, as a range name, or null when it is allowed. */
  deniedRange(host: string, address: string): string | null {
    let ip: Address;
    try {
      // process(): IPv4-mapped (and IPv4-compatible) IPv6 addresses are checked as the IPv4 they reach.
      ip = ipaddr.process(address);
    } catch {
      return 'unparsable';
    }
    const range = ip.range();
    if (NEVER_RANGES.has(range)) return range;
    if (METADATA.some(([m, bits]) => m.kind() === ip.kind() && ip.match(m, bits))) return 'metadata';
    if (range === 'unicast') return null;
    const name = hostKey(host);
    if (this.allow.names.has(name) || this.allow.suffixes.some((s) => name.endsWith(`.${s}`))) return null;
    if (this.allow.cidrs.some(([net, bits]) => net.kind() === ip.kind() && ip.match(net, bits))) return null;
    return range;
  }

  /**
   * Resolves `host` once (IP literals in any spelling the OS resolver accepts: `0x7f000001`,
   * `2130706433`, `127.1`, `::ffff:127.0.0.1`) and checks every address. Throws
   * OutboundDeniedError if any is refused, OutboundLookupError if the name does not resolve in time.
   */
  async resolve(host: string, timeoutMs = this.lookupTimeoutMs): Promise<OutboundTarget> {
    const name = hostKey(host);
    if (!name) throw new OutboundLookupError('(no host)', 'ENOTFOUND');
    const found = net.isIP(name) ? [{ address: name, family: net.isIP(name) }] : await this.lookupWithin(name, timeoutMs);
    if (!found.length) throw new OutboundLookupError(name, 'ENOTFOUND');
    const addresses: string[] = [];
    for (const { address } of found) {
      const denied = this.deniedRange(name, address);
      if (denied) throw new OutboundDeniedError(name, denied, !ipaddr.isValid(name));
      const canonical = ipaddr.process(address).toString();
      if (!addresses.includes(canonical)) addresses.push(canonical);
    }
    return { host: name, addresses, servername: ipaddr.isValid(name) ? undefined : name };
  }

  /**
   * The check when a host is saved: the refusal's message, or null. A name that does not resolve
   * now is accepted (its records may come later); it is checked again at every connection.
   */
  async refusal(host: string): Promise<string | null> {
    try {
      await this.resolve(host);
      return null;
    } catch (err) {
      if (err instanceof OutboundDeniedError) return err.message;
      if (err instanceof OutboundLookupError) return null;
      throw err;
    }
  }

  private async lookupWithin(name: string, timeoutMs: number): Promise<{ address: string; family: number }[]> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new OutboundLookupError(name, 'ETIMEOUT')), timeoutMs);
    });
    try {
      return await Promise.race([this.lookup(name), timeout]);
    } catch (err) {
      if (err instanceof OutboundLookupError) throw err;
      const code = (err as { code?: unknown } | null)?.code;
      throw new OutboundLookupError(name, typeof code === 'string' ? code : 'UNKNOWN');
    } finally {
      clearTimeout(timer);
    }
  }
}
