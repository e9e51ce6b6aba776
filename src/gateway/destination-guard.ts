// The SSRF guard of the egress proxy: every address a destination stands for (an IP literal in any
// of its numeric forms, or every address its name resolves to) must be outside the denied ranges
// unless `allowDestinations` covers it. Addresses that embed an IPv4 address (IPv4-mapped,
// IPv4-translated, IPv4-compatible, NAT64, 6to4) are judged by the address they embed; local-use
// NAT64 and Teredo are denied whole. Practice of Smokescreen and Squid: deny loopback, link-local,
// private, CGNAT and metadata addresses unless configured. The table follows IANA's IPv4 and IPv6
// special-purpose registries (every block not globally reachable); destination-guard.ranges.test.ts
// checks it edge by edge against an independent copy.
import { formatIp, type IpAddress, type IpPrefix, parsePrefix, prefixContains } from '../match/ip.js';
import { PrefixTrie } from '../match/prefix-trie.js';
import { GatewayError } from './errors.js';

/** Denied ranges and what they are; the most specific match names the reason. */
export const deniedRanges: readonly { prefix: string; name: string }[] = [
  { prefix: '0.0.0.0/8', name: '"this network" (0.0.0.0/8)' },
  { prefix: '10.0.0.0/8', name: 'private (RFC 1918)' },
  { prefix: '100.64.0.0/10', name: 'shared / CGNAT (RFC 6598)' },
  { prefix: '127.0.0.0/8', name: 'loopback' },
  { prefix: '169.254.0.0/16', name: 'link-local' },
  { prefix: '169.254.169.254/32', name: 'cloud metadata service' },
  { prefix: '172.16.0.0/12', name: 'private (RFC 1918)' },
  { prefix: '192.0.0.0/24', name: 'IETF protocol assignments' },
  { prefix: '192.0.2.0/24', name: 'documentation (TEST-NET-1)' },
  { prefix: '192.88.99.0/24', name: '6to4 relay anycast' },
  { prefix: '192.168.0.0/16', name: 'private (RFC 1918)' },
  { prefix: '198.18.0.0/15', name: 'benchmarking' },
  { prefix: '198.51.100.0/24', name: 'documentation (TEST-NET-2)' },
  { prefix: '203.0.113.0/24', name: 'documentation (TEST-NET-3)' },
  { prefix: '224.0.0.0/4', name: 'multicast' },
  { prefix: '240.0.0.0/4', name: 'reserved' },
  { prefix: '255.255.255.255/32', name: 'broadcast' },
  { prefix: '::/128', name: 'unspecified' },
  { prefix: '::1/128', name: 'loopback' },
  { prefix: '64:ff9b:1::/48', name: 'local-use NAT64' },
  { prefix: '100::/64', name: 'discard-only' },
  { prefix: '100:0:0:1::/64', name: 'dummy prefix' },
  { prefix: '2001::/23', name: 'IETF protocol assignments' },
  { prefix: '2001::/32', name: 'Teredo' },
  { prefix: '2001:2::/48', name: 'benchmarking' },
  { prefix: '2001:10::/28', name: 'ORCHID (deprecated)' },
  { prefix: '2001:db8::/32', name: 'documentation' },
  { prefix: '3fff::/20', name: 'documentation' },
  { prefix: '5f00::/16', name: 'SRv6 SIDs' },
  { prefix: 'fc00::/7', name: 'unique-local' },
  { prefix: 'fd00:ec2::254/128', name: 'cloud metadata service' },
  { prefix: 'fe80::/10', name: 'link-local' },
  { prefix: 'fec0::/10', name: 'site-local (deprecated)' },
  { prefix: 'ff00::/8', name: 'multicast' },
];

/** IPv6 forms that carry an IPv4 address: where it sits in the 16 bytes. */
const embeddingForms: readonly { prefix: IpPrefix; at: number; name: string }[] = [
  { prefix: parsePrefix('::ffff:0:0/96') as IpPrefix, at: 12, name: 'IPv4-mapped' },
  { prefix: parsePrefix('::ffff:0:0:0/96') as IpPrefix, at: 12, name: 'IPv4-translated' },
  { prefix: parsePrefix('::/96') as IpPrefix, at: 12, name: 'IPv4-compatible' },
  { prefix: parsePrefix('64:ff9b::/96') as IpPrefix, at: 12, name: 'NAT64' },
  { prefix: parsePrefix('2002::/16') as IpPrefix, at: 2, name: '6to4' },
];

export interface GuardVerdict {
  allowed: boolean;
  /** What the address is, e.g. `127.0.0.1 (loopback)`, `::ffff:a00:1 (IPv4-mapped 10.0.0.1, private)`. */
  reason: string;
}

export class DestinationGuard {
  readonly #denied = new PrefixTrie<string>(1);
  readonly #allowed = new PrefixTrie<string>(1);

  constructor(allowDestinations: readonly string[]) {
    for (const range of deniedRanges) this.#denied.set(parsePrefix(range.prefix) as IpPrefix, 0, range.name);
    for (const text of allowDestinations) this.#allowed.set(parsePrefix(text) as IpPrefix, 0, text);
  }

  /** Judges one address (already unmapped from `::ffff:a.b.c.d`). */
  check(address: IpAddress): GuardVerdict {
    const text = formatIp(address);
    const allowedBy = this.#allowed.lookup(address, 0);
    if (allowedBy !== undefined) return { allowed: true, reason: `${text} (allowDestinations ${allowedBy})` };
    if (address.version === 6 && !isUnspecifiedOrLoopback(address)) {
      for (const form of embeddingForms) {
        if (!prefixContains(form.prefix, address)) continue;
        const embedded: IpAddress = { version: 4, bytes: address.bytes.slice(form.at, form.at + 4) };
        const inner = this.check(embedded);
        return {
          allowed: inner.allowed,
          reason: `${text} (${form.name} ${inner.reason.replace(' (', ', ').replace(/\)$/, '')})`,
        };
      }
    }
    const name = this.#denied.lookup(address, 0);
    if (name !== undefined) return { allowed: false, reason: `${text} (${name})` };
    return { allowed: true, reason: `${text} (public)` };
  }

  /** Throws PW_GW_DESTINATION_DENIED unless every address is allowed. */
  checkAll(host: string, addresses: readonly IpAddress[]): void {
    for (const address of addresses) {
      const verdict = this.check(address);
      if (verdict.allowed) continue;
      const what =
        formatIp(address) === host
          ? `destination ${verdict.reason}`
          : `${host} resolves to ${verdict.reason}`;
      throw new GatewayError(
        'PW_GW_DESTINATION_DENIED',
        `${what}, a denied range; allowDestinations does not cover it`,
      );
    }
  }
}

function isUnspecifiedOrLoopback(address: IpAddress): boolean {
  const b = address.bytes;
  for (let i = 0; i < 15; i++) if (b[i] !== 0) return false;
  return b[15] === 0 || b[15] === 1;
}
