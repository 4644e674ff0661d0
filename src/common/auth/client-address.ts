import net from 'node:net';

/**
 * The key the authentication throttle counts a client under: an IPv4 address as it is (IPv4-mapped
 * IPv6 included), an IPv6 address by its /64, since one subscriber commonly holds a whole /64 and
 * would otherwise have 2^64 fresh addresses to try from. `address` is Express's `req.ip`, which
 * already honours `trust proxy`.
 */
export function clientKey(address: string | undefined): string {
  if (!address) return 'unknown';
  const bare = address.replace(/%.*$/, ''); // an IPv6 zone id (fe80::1%eth0)
  if (net.isIPv4(bare)) return bare;
  if (!net.isIPv6(bare)) return bare;
  const groups = ipv6Groups(bare);
  // ::ffff:a.b.c.d (or its hex spelling) is an IPv4 client on a dual-stack socket.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff)
    return [groups[6] >> 8, groups[6] & 0xff, groups[7] >> 8, groups[7] & 0xff].join('.');
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}

/** The eight 16-bit groups of an address node:net already accepted as IPv6. */
function ipv6Groups(address: string): number[] {
  const toGroups = (part: string): number[] => {
    if (!part) return [];
    return part.split(':').flatMap((g) => {
      if (!g.includes('.')) return [parseInt(g, 16)];
      const [a, b, c, d] = g.split('.').map(Number);
      return [(a << 8) | b, (c << 8) | d];
    });
  };
  const [head, tail] = address.split('::');
  if (tail === undefined) return toGroups(head);
  const h = toGroups(head);
  const t = toGroups(tail);
  return [...h, ...Array<number>(8 - h.length - t.length).fill(0), ...t];
}
