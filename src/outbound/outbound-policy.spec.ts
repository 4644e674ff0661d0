import { describe, expect, it } from '@jest/globals';
import { validateEnv } from '../config/env.schema.js';
import {
  OUTBOUND_DENIED,
  OutboundDeniedError,
  OutboundLookupError,
  OutboundPolicy,
  parseOutboundAllow,
  type LookupAll,
} from './outbound-policy.js';

/** A resolver that knows a few names, for names the machine's DNS cannot be asked about. */
function fakeDns(records: Record<string, string[]>): LookupAll {
  return async (host) => {
    const found = records[host];
    if (!found) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return found.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
}

/** The policy with OUTBOUND_ALLOW set to `allow`, resolving with the OS resolver unless told otherwise. */
const policy = (allow = '', lookup?: LookupAll) => new OutboundPolicy(parseOutboundAllow(allow), { lookup });

async function denial(p: OutboundPolicy, host: string): Promise<OutboundDeniedError> {
  const err = await p.resolve(host).then(
    () => new Error(`expected ${host} to be denied`),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OutboundDeniedError);
  return err as OutboundDeniedError;
}

describe(parseOutboundAllow.name, () => {
  it('should read IP addresses, CIDR ranges, host names and *.suffix patterns, ignoring blanks and spaces', () => {
    const list = parseOutboundAllow(' 10.0.0.5, 192.168.0.0/16 ,fd00::/8,::1, relay.corp.example., *.Mail.Internal, smtp_relay ,');
    expect(list.cidrs.map(([ip, bits]) => `${ip.toString()}/${bits}`)).toEqual(['10.0.0.5/32', '192.168.0.0/16', 'fd00::/8', '::1/128']);
    expect([...list.names]).toEqual(['relay.corp.example', 'smtp_relay']);
    expect(list.suffixes).toEqual(['mail.internal']);
    expect(parseOutboundAllow('')).toEqual({ cidrs: [], names: new Set(), suffixes: [] });
    expect(parseOutboundAllow(undefined).cidrs).toEqual([]);
  });

  it.each([
    '10.0.0.0/33',
    '10.0.0.0/',
    '10.0.0.0/8/8',
    '127.1',
    '0x7f000001',
    '2130706433',
    '*',
    '*.',
    'a b',
    'http://relay',
    '*.*.corp',
    '::1/129',
    'relay/24',
  ])('should refuse the entry %p, naming it', (entry) => {
    expect(() => parseOutboundAllow(`10.0.0.1,${entry}`)).toThrow(`entry '${entry}' is not an IP address`);
  });

  it('should stop the service at start-up with a message naming OUTBOUND_ALLOW when an entry is bad', () => {
    expect(() => validateEnv({ OUTBOUND_ALLOW: '10.0.0.0/8,not a host' })).toThrow(
      /^Invalid configuration: OUTBOUND_ALLOW: .*entry 'not a host' is not an IP address/,
    );
    expect(validateEnv({}).OUTBOUND_ALLOW).toBe('');
    expect(validateEnv({ OUTBOUND_ALLOW: '127.0.0.1, *.corp.example' }).OUTBOUND_ALLOW).toBe('127.0.0.1, *.corp.example');
  });
});

describe(OutboundPolicy.name, () => {
  describe('denied by default', () => {
    // Spellings the OS resolver (getaddrinfo / inet_aton) turns into 127.0.0.1 or 0.0.0.0: resolved, then checked.
    it.each([
      ['127.0.0.1', 'loopback'],
      ['127.0.0.2', 'loopback'],
      ['127.255.255.254', 'loopback'],
      ['2130706433', 'loopback'],
      ['0x7f000001', 'loopback'],
      ['0x7F000001', 'loopback'],
      ['0177.0.0.1', 'loopback'],
      ['0177.0000.0000.0001', 'loopback'],
      ['127.1', 'loopback'],
      ['127.0.1', 'loopback'],
      ['0x7f.1', 'loopback'],
      ['127.000.000.001', 'loopback'],
      ['::ffff:127.0.0.1', 'loopback'],
      ['::ffff:7f00:1', 'loopback'],
      ['0:0:0:0:0:ffff:7f00:1', 'loopback'],
      ['::1', 'loopback'],
      ['0:0:0:0:0:0:0:1', 'loopback'],
      ['localhost', 'loopback'],
      ['LOCALHOST.', 'loopback'],
      ['0.0.0.0', 'unspecified'],
      ['0', 'unspecified'],
      ['::', 'unspecified'],
    ])('should deny %p (%s), in whatever spelling the resolver accepts', async (host, range) => {
      const err = await denial(policy(), host);
      expect(err.range).toBe(range);
      expect(err.code).toBe(OUTBOUND_DENIED);
    });

    it.each([
      ['10.0.0.1', 'private'],
      ['10.255.255.255', 'private'],
      ['172.16.0.1', 'private'],
      ['172.31.255.254', 'private'],
      ['192.168.1.1', 'private'],
      ['fc00::1', 'uniqueLocal'],
      ['fd12:3456::1', 'uniqueLocal'],
      ['::ffff:10.0.0.1', 'private'],
      ['100.64.0.1', 'carrierGradeNat'],
      ['100.127.255.254', 'carrierGradeNat'],
      ['169.254.169.254', 'linkLocal'],
      ['169.254.0.1', 'linkLocal'],
      ['::ffff:169.254.169.254', 'linkLocal'],
      ['fe80::1', 'linkLocal'],
      ['fd00:ec2::254', 'metadata'],
      ['100.100.100.200', 'metadata'],
      ['224.0.0.1', 'multicast'],
      ['ff02::1', 'multicast'],
      ['255.255.255.255', 'broadcast'],
      ['240.0.0.1', 'reserved'],
      ['192.0.2.10', 'reserved'],
      ['2001:db8::1', 'reserved'],
      // IPv6 forms that carry an IPv4 address to a translator or tunnel.
      ['64:ff9b::7f00:1', 'rfc6052'],
      ['2002:7f00:1::1', '6to4'],
      ['2001:0:4136:e378::1', 'teredo'],
      ['::127.0.0.1', 'loopback'],
    ])('should deny %p (%s)', async (host, range) => {
      expect((await denial(policy(), host)).range).toBe(range);
    });

    it('should say what the address is, and whether OUTBOUND_ALLOW can open it, without naming the address', async () => {
      const loopback = await denial(policy('', fakeDns({ 'evil.example': ['127.0.0.1'] })), 'evil.example');
      expect(loopback.message).toBe(
        'Connections to this host are not allowed: it resolves to a loopback address (an operator can allow it with OUTBOUND_ALLOW).',
      );
      expect(loopback.message).not.toContain('127.0.0.1');
      expect((await denial(policy(), '169.254.169.254')).message).toBe(
        'Connections to this host are not allowed: it is a link-local address, which is never allowed.',
      );
    });

    it('should deny a name when any one of its addresses is denied', async () => {
      const p = policy('', fakeDns({ 'mixed.example': ['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c', '10.0.0.7'] }));
      expect((await denial(p, 'mixed.example')).range).toBe('private');
    });

    it('should allow public unicast addresses and names that resolve only to them', async () => {
      const p = policy('', fakeDns({ 'smtp.example.com': ['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'] }));
      await expect(p.resolve('8.8.8.8')).resolves.toEqual({ host: '8.8.8.8', addresses: ['8.8.8.8'], servername: undefined });
      await expect(p.resolve('172.32.0.1')).resolves.toMatchObject({ addresses: ['172.32.0.1'] });
      await expect(p.resolve('::ffff:8.8.4.4')).resolves.toMatchObject({ addresses: ['8.8.4.4'], servername: undefined });
      await expect(p.resolve('SMTP.Example.com.')).resolves.toEqual({
        host: 'smtp.example.com',
        addresses: ['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'],
        servername: 'smtp.example.com',
      });
    });
  });

  describe('OUTBOUND_ALLOW', () => {
    it('should allow a listed address in every spelling, and nothing beside it', async () => {
      const p = policy('127.0.0.1');
      for (const host of ['127.0.0.1', '0x7f000001', '2130706433', '127.1', '::ffff:127.0.0.1', 'localhost'])
        await expect(p.resolve(host)).resolves.toMatchObject({ addresses: ['127.0.0.1'] });
      expect((await denial(p, '127.0.0.2')).range).toBe('loopback');
      expect((await denial(p, '::1')).range).toBe('loopback');
      expect((await denial(p, '0.0.0.0')).range).toBe('unspecified');
    });

    it('should verify TLS against the name, and against the address when the host is an address in any spelling', async () => {
      const p = policy('127.0.0.0/8');
      await expect(p.resolve('localhost')).resolves.toMatchObject({ servername: 'localhost' });
      await expect(p.resolve('127.0.0.1')).resolves.toMatchObject({ servername: undefined });
      await expect(p.resolve('0x7f000001')).resolves.toMatchObject({ servername: undefined });
    });

    it('should allow addresses inside a listed CIDR range', async () => {
      const p = policy('10.0.0.0/8, fd00::/8');
      await expect(p.resolve('10.20.30.40')).resolves.toMatchObject({ addresses: ['10.20.30.40'] });
      await expect(p.resolve('fd12::25')).resolves.toMatchObject({ addresses: ['fd12::25'] });
      expect((await denial(p, '192.168.0.25')).range).toBe('private');
      expect((await denial(p, 'fc00::25')).range).toBe('uniqueLocal');
    });

    it('should allow a listed host name whatever it resolves to, and only that name', async () => {
      const p = policy('Relay.Corp.Example', fakeDns({ 'relay.corp.example': ['10.1.1.25'], 'other.corp.example': ['10.1.1.25'] }));
      await expect(p.resolve('relay.corp.example')).resolves.toMatchObject({ addresses: ['10.1.1.25'], servername: 'relay.corp.example' });
      await expect(p.resolve('RELAY.corp.example.')).resolves.toMatchObject({ addresses: ['10.1.1.25'] });
      expect((await denial(p, 'other.corp.example')).range).toBe('private');
      // The name is allowed, not its address: reaching the address by another name or directly stays denied.
      expect((await denial(p, '10.1.1.25')).range).toBe('private');
    });

    it('should allow names under a *.suffix pattern, but not the suffix itself nor a name that merely ends alike', async () => {
      const records = {
        'a.mail.internal': ['10.0.0.1'],
        'b.a.mail.internal': ['10.0.0.2'],
        'mail.internal': ['10.0.0.3'],
        'evilmail.internal': ['10.0.0.4'],
      };
      const p = policy('*.mail.internal', fakeDns(records));
      await expect(p.resolve('a.mail.internal')).resolves.toMatchObject({ addresses: ['10.0.0.1'] });
      await expect(p.resolve('b.a.mail.internal')).resolves.toMatchObject({ addresses: ['10.0.0.2'] });
      await denial(p, 'mail.internal');
      await denial(p, 'evilmail.internal');
    });

    it.each([
      ['169.254.169.254', '169.254.169.254'],
      ['169.254.169.254', '169.254.0.0/16'],
      ['169.254.169.254', '0.0.0.0/0'],
      ['fe80::1', 'fe80::/10'],
      ['fe80::1', '::/0'],
      ['fd00:ec2::254', 'fc00::/7'],
      ['100.100.100.200', '100.64.0.0/10'],
      ['0.0.0.0', '0.0.0.0/0'],
      ['224.0.0.1', '0.0.0.0/0'],
      ['metadata.google.internal', 'metadata.google.internal'],
      ['metadata.google.internal', '*.google.internal'],
    ])('should keep %p denied even with OUTBOUND_ALLOW=%p', async (host, allow) => {
      const p = policy(allow, fakeDns({ 'metadata.google.internal': ['169.254.169.254'] }));
      const err = await denial(p, host);
      expect(err.message).toMatch(/never allowed\.$/);
    });
  });

  describe('lookups', () => {
    it('should report a name that does not resolve as EDNS, and accept it when saving', async () => {
      const p = policy('', fakeDns({}));
      const err = await p.resolve('no-such-host.invalid').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OutboundLookupError);
      expect(err).toMatchObject({ code: 'EDNS', originalCode: 'ENOTFOUND' });
      await expect(p.refusal('no-such-host.invalid')).resolves.toBeNull();
    });

    it('should give up on a lookup that takes longer than the timeout', async () => {
      const p = new OutboundPolicy(parseOutboundAllow(''), { lookup: () => new Promise(() => undefined), lookupTimeoutMs: 50 });
      await expect(p.resolve('slow.example')).rejects.toMatchObject({ code: 'EDNS', originalCode: 'ETIMEOUT' });
    });

    it('should give the refusal message when saving a denied host, and null for an allowed one', async () => {
      const p = policy('', fakeDns({ 'smtp.example.com': ['93.184.215.14'], localhost: ['127.0.0.1'] }));
      await expect(p.refusal('localhost')).resolves.toMatch(/^Connections to this host are not allowed: it resolves to a loopback address/);
      await expect(p.refusal('smtp.example.com')).resolves.toBeNull();
    });
  });
});
