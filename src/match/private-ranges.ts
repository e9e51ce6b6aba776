// Address ranges that are never on the public Internet: loopback, link-local, RFC 1918, CGNAT
// (RFC 6598) and IPv6 unique-local. The policy uses them so that a topology's default never calls a
// flow to a private endpoint or a VNet address `internet` (docs/topology.md, "Private destinations").
import { type IpAddress, type IpPrefix, parsePrefix, unmapIPv4 } from './ip.js';
import { PrefixTrie } from './prefix-trie.js';

export const privateRanges: readonly { prefix: string; name: string }[] = [
  { prefix: '10.0.0.0/8', name: 'RFC 1918' },
  { prefix: '172.16.0.0/12', name: 'RFC 1918' },
  { prefix: '192.168.0.0/16', name: 'RFC 1918' },
  { prefix: '100.64.0.0/10', name: 'CGNAT, RFC 6598' },
  { prefix: '127.0.0.0/8', name: 'loopback' },
  { prefix: '169.254.0.0/16', name: 'link-local' },
  { prefix: '::1/128', name: 'loopback' },
  { prefix: 'fe80::/10', name: 'link-local' },
  { prefix: 'fc00::/7', name: 'unique-local' },
];

const trie = new PrefixTrie<{ prefix: string; name: string }>(1);
for (const range of privateRanges) trie.set(parsePrefix(range.prefix) as IpPrefix, 0, range);

/** The private range an address is in (IPv4-mapped IPv6 judged by its IPv4 address), if any. */
export function privateRangeOf(address: IpAddress): { prefix: string; name: string } | undefined {
  return trie.lookup(unmapIPv4(address), 0);
}
