import { describe, expect, it } from '@jest/globals';
import { clientKey } from './client-address.js';

describe(clientKey.name, () => {
  it.each([
    ['an IPv4 address', '203.0.113.7', '203.0.113.7'],
    ['an IPv4-mapped IPv6 address (a dual-stack socket)', '::ffff:127.0.0.1', '127.0.0.1'],
    ['an IPv4-mapped address in hex', '::ffff:7f00:1', '127.0.0.1'],
    ['an IPv6 address, by its /64', '2001:db8:1:2:aaaa:bbbb:cccc:dddd', '2001:db8:1:2::/64'],
    ['a compressed IPv6 address', '2001:db8::1', '2001:db8:0:0::/64'],
    ['IPv6 loopback', '::1', '0:0:0:0::/64'],
    ['an address with a zone id', 'fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['leading zeros and upper case', '2001:0DB8:0001:0002::1', '2001:db8:1:2::/64'],
  ])('should key %s', (_, address, key) => {
    expect(clientKey(address)).toBe(key);
  });

  it('should put two addresses of one /64 under one key, and of different /64s under different keys', () => {
    expect(clientKey('2001:db8:1:2::1')).toBe(clientKey('2001:db8:1:2:ffff::9'));
    expect(clientKey('2001:db8:1:2::1')).not.toBe(clientKey('2001:db8:1:3::1'));
  });

  it('should give a key even when Express has no address', () => {
    expect(clientKey(undefined)).toBe('unknown');
  });
});
