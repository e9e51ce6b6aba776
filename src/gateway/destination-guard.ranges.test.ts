// The destination guard's range table, tested at every edge: the first and last address inside each
// denied range are refused, and the neighbours just outside get whatever an independent oracle says.
// The oracle is written here from IANA's registries, not from the table, so a range dropped, mistyped
// or narrowed in destination-guard.ts fails this file. Addresses are built with BigInt arithmetic,
// not with src/match/ip.ts, so a bug there cannot hide one here.
import { describe, expect, test } from 'vitest';
import type { IpAddress } from '../match/ip.js';
import { parseTarget, type Target } from '../policy/target.js';
import { DestinationGuard, deniedRanges } from './destination-guard.js';

interface Range {
  prefix: string;
  what: string;
}

// IANA IPv4 Special-Purpose Address Registry
// (https://www.iana.org/assignments/iana-ipv4-special-registry/, as of 2025): every entry whose
// "Globally Reachable" is False or N/A. Entries that are globally reachable (192.0.0.9/32 PCP anycast,
// 192.0.0.10/32 TURN, 192.31.196.0/24 and 192.175.48.0/24 AS112, 192.52.193.0/24 AMT) are left out,
// except where a non-reachable block covers them (192.0.0.0/24 is denied whole).
const ianaIPv4: readonly Range[] = [
  { prefix: '0.0.0.0/8', what: '"This network" (RFC 791)' },
  { prefix: '0.0.0.0/32', what: '"This host on this network" (RFC 1122)' },
  { prefix: '10.0.0.0/8', what: 'Private-Use (RFC 1918)' },
  { prefix: '100.64.0.0/10', what: 'Shared Address Space (RFC 6598)' },
  { prefix: '127.0.0.0/8', what: 'Loopback (RFC 1122)' },
  { prefix: '169.254.0.0/16', what: 'Link Local (RFC 3927)' },
  { prefix: '172.16.0.0/12', what: 'Private-Use (RFC 1918)' },
  { prefix: '192.0.0.0/24', what: 'IETF Protocol Assignments (RFC 6890)' },
  { prefix: '192.0.0.0/29', what: 'IPv4 Service Continuity Prefix (RFC 7335)' },
  { prefix: '192.0.0.8/32', what: 'IPv4 dummy address (RFC 7600)' },
  { prefix: '192.0.0.170/32', what: 'NAT64/DNS64 Discovery (RFC 7050)' },
  { prefix: '192.0.0.171/32', what: 'NAT64/DNS64 Discovery (RFC 7050)' },
  { prefix: '192.0.2.0/24', what: 'Documentation (TEST-NET-1) (RFC 5737)' },
  { prefix: '192.88.99.0/24', what: 'Deprecated (6to4 Relay Anycast) (RFC 7526)' },
  { prefix: '192.168.0.0/16', what: 'Private-Use (RFC 1918)' },
  { prefix: '198.18.0.0/15', what: 'Benchmarking (RFC 2544)' },
  { prefix: '198.51.100.0/24', what: 'Documentation (TEST-NET-2) (RFC 5737)' },
  { prefix: '203.0.113.0/24', what: 'Documentation (TEST-NET-3) (RFC 5737)' },
  { prefix: '240.0.0.0/4', what: 'Reserved (RFC 1112)' },
  { prefix: '255.255.255.255/32', what: 'Limited Broadcast (RFC 8190, RFC 919)' },
];

// IANA IPv6 Special-Purpose Address Registry
// (https://www.iana.org/assignments/iana-ipv6-special-registry/, as of 2025): every entry whose
// "Globally Reachable" is False or N/A. Left out as globally reachable: 64:ff9b::/96 and
// 2002::/16 (judged by the IPv4 address they embed, below), 2001:1::1/128, 2001:1::2/128,
// 2001:1::3/128, 2001:3::/32, 2001:4:112::/48, 2001:20::/28, 2001:30::/28, 2620:4f:8000::/48 (all
// inside 2001::/23 apart from the last, which stays allowed). ::ffff:0:0/96 is judged by what it
// embeds too.
const ianaIPv6: readonly Range[] = [
  { prefix: '::1/128', what: 'Loopback Address (RFC 4291)' },
  { prefix: '::/128', what: 'Unspecified Address (RFC 4291)' },
  { prefix: '64:ff9b:1::/48', what: 'IPv4-IPv6 Translat., local use (RFC 8215)' },
  { prefix: '100::/64', what: 'Discard-Only Address Block (RFC 6666)' },
  { prefix: '100:0:0:1::/64', what: 'Dummy IPv6 Prefix (RFC 9780)' },
  { prefix: '2001::/23', what: 'IETF Protocol Assignments (RFC 2928)' },
  { prefix: '2001::/32', what: 'TEREDO (RFC 4380, RFC 8190)' },
  { prefix: '2001:2::/48', what: 'Benchmarking (RFC 5180)' },
  { prefix: '2001:10::/28', what: 'Deprecated (previously ORCHID) (RFC 4843)' },
  { prefix: '2001:db8::/32', what: 'Documentation (RFC 3849)' },
  { prefix: '3fff::/20', what: 'Documentation (RFC 9637)' },
  { prefix: '5f00::/16', what: 'Segment Routing (SRv6) SIDs (RFC 9602)' },
  { prefix: 'fc00::/7', what: 'Unique-Local (RFC 4193, RFC 8190)' },
  { prefix: 'fe80::/10', what: 'Link-Local Unicast (RFC 4291)' },
];

// Not in the special-purpose registries but never a Power BI destination: the multicast and
// deprecated site-local blocks of the IANA IPv4 Multicast Address Space and IPv6 Address Space
// registries (https://www.iana.org/assignments/multicast-addresses/,
// https://www.iana.org/assignments/ipv6-address-space/; site-local deprecated by RFC 3879), and the
// instance metadata services (169.254.169.254: Azure IMDS and AWS IMDS documentation;
// fd00:ec2::254: AWS IMDS over IPv6).
const otherDenied: readonly Range[] = [
  { prefix: '224.0.0.0/4', what: 'IPv4 multicast' },
  { prefix: 'ff00::/8', what: 'IPv6 multicast' },
  { prefix: 'fec0::/10', what: 'site-local (deprecated, RFC 3879)' },
  { prefix: '169.254.169.254/32', what: 'cloud instance metadata (Azure, AWS)' },
  { prefix: 'fd00:ec2::254/128', what: 'cloud instance metadata (AWS, IPv6)' },
];

const independent: readonly Range[] = [...ianaIPv4, ...ianaIPv6, ...otherDenied];

interface Block {
  version: 4 | 6;
  first: bigint;
  last: bigint;
}

/** The address as a number, from text (dotted quad, or IPv6 with `::`, no embedded quad). */
function toNumber(text: string): { version: 4 | 6; value: bigint } {
  if (!text.includes(':')) {
    const parts = text.split('.').map(BigInt);
    if (parts.length !== 4) throw new Error(`bad IPv4 ${text}`);
    return { version: 4, value: parts.reduce((sum, part) => (sum << 8n) | part, 0n) };
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? [] : Array(8 - headGroups.length - tailGroups.length).fill('0');
  const groups = [...headGroups, ...zeros, ...tailGroups];
  if (groups.length !== 8) throw new Error(`bad IPv6 ${text}`);
  return { version: 6, value: groups.reduce((sum, group) => (sum << 16n) | BigInt(`0x${group}`), 0n) };
}

function toBlock(prefix: string): Block {
  const [address, length] = prefix.split('/') as [string, string];
  const { version, value } = toNumber(address);
  const host = BigInt((version === 4 ? 32 : 128) - Number(length));
  const first = (value >> host) << host;
  if (first !== value) throw new Error(`${prefix} has host bits set`);
  return { version, first, last: first + (1n << host) - 1n };
}

function toAddress(version: 4 | 6, value: bigint): IpAddress {
  const size = version === 4 ? 4 : 16;
  const bytes = new Uint8Array(size);
  for (let i = size - 1, rest = value; i >= 0; i--, rest >>= 8n) bytes[i] = Number(rest & 0xffn);
  return { version, bytes };
}

function show(version: 4 | 6, value: bigint): string {
  if (version === 4) return [24n, 16n, 8n, 0n].map((shift) => (value >> shift) & 0xffn).join('.');
  return [...Array(8).keys()].map((i) => ((value >> BigInt(112 - 16 * i)) & 0xffffn).toString(16)).join(':');
}

const independentBlocks = independent.map((range) => toBlock(range.prefix));

// IPv6 forms that carry an IPv4 address in their last 32 bits (or, for 6to4, bits 16-47), as the
// RFCs define them; each is judged by the IPv4 address it carries.
const embeddings: readonly { name: string; block: Block; shift: bigint }[] = [
  { name: 'IPv4-mapped ::ffff:0:0/96 (RFC 4291)', block: toBlock('::ffff:0:0/96'), shift: 0n },
  { name: 'IPv4-translated ::ffff:0:0:0/96 (RFC 2765)', block: toBlock('::ffff:0:0:0/96'), shift: 0n },
  { name: 'IPv4-compatible ::/96 (RFC 4291, deprecated)', block: toBlock('::/96'), shift: 0n },
  { name: 'NAT64 64:ff9b::/96 (RFC 6052)', block: toBlock('64:ff9b::/96'), shift: 0n },
  { name: '6to4 2002::/16 (RFC 3056)', block: toBlock('2002::/16'), shift: 80n },
];

/** What the independent list says about one address. */
function oracleDenies(version: 4 | 6, value: bigint): boolean {
  if (version === 6 && value > 1n) {
    for (const form of embeddings) {
      if (value < form.block.first || value > form.block.last) continue;
      return oracleDenies(4, (value >> form.shift) & 0xffffffffn);
    }
  }
  return independentBlocks.some(
    (block) => block.version === version && value >= block.first && value <= block.last,
  );
}

const guard = new DestinationGuard([]);

function guardDenies(version: 4 | 6, value: bigint): boolean {
  return !guard.check(toAddress(version, value)).allowed;
}

/** First and last inside (denied), the neighbours outside (whatever the oracle says). */
function expectEdges(prefix: string): void {
  const { version, first, last } = toBlock(prefix);
  const top = version === 4 ? (1n << 32n) - 1n : (1n << 128n) - 1n;
  for (const inside of [first, last]) {
    expect(guardDenies(version, inside), `${show(version, inside)}, inside ${prefix}, is denied`).toBe(true);
    expect(oracleDenies(version, inside), `${show(version, inside)}: the oracle agrees`).toBe(true);
  }
  for (const outside of [first - 1n, last + 1n]) {
    if (outside < 0n || outside > top) continue;
    const want = oracleDenies(version, outside);
    expect(
      guardDenies(version, outside),
      `${show(version, outside)}, next to ${prefix}, denied: ${want}`,
    ).toBe(want);
  }
}

describe('the denied-range table at its edges', () => {
  test.each(deniedRanges.map((range) => [range.prefix, range.name]))('table %s (%s)', (prefix) => {
    expectEdges(prefix);
  });

  test.each(independent.map((range) => [range.prefix, range.what]))('registry %s (%s)', (prefix) => {
    expectEdges(prefix);
  });

  test('the metadata services are named as such, not by the block around them', () => {
    for (const text of ['169.254.169.254', 'fd00:ec2::254']) {
      const { version, value } = toNumber(text);
      expect(guard.check(toAddress(version, value)).reason).toBe(`${text} (cloud metadata service)`);
    }
  });

  test('every table entry is a prefix of the independent list, spelled the same way', () => {
    const known = new Set(independent.map((range) => range.prefix));
    const unknown = deniedRanges.filter((range) => !known.has(range.prefix)).map((range) => range.prefix);
    expect(unknown).toEqual([]);
  });
});

describe('IPv6 forms that embed an IPv4 address', () => {
  const inner = [
    { v4: '127.0.0.1', denied: true },
    { v4: '10.0.0.1', denied: true },
    { v4: '172.31.255.255', denied: true },
    { v4: '192.168.1.1', denied: true },
    { v4: '169.254.169.254', denied: true },
    { v4: '100.64.0.1', denied: true },
    { v4: '0.0.0.0', denied: true },
    { v4: '13.107.6.152', denied: false },
    { v4: '52.112.0.1', denied: false },
  ];
  const cases = embeddings.flatMap((form) =>
    inner.map(({ v4, denied }) => {
      const value = form.block.first | (toNumber(v4).value << form.shift);
      return [form.name, v4, show(6, value), denied] as const;
    }),
  );

  test.each(cases)('%s carrying %s (%s): denied %s', (_, __, text, denied) => {
    expect(guardDenies(6, toNumber(text).value)).toBe(denied);
    // What a client sends: the bracketed literal in a request authority.
    const target = parseTarget(`[${text}]:443`) as Target;
    expect(guard.check(target.address as IpAddress).allowed).toBe(!denied);
  });

  test.each([
    '[::ffff:0:7f00:1]',
    '[::ffff:0:127.0.0.1]',
    '[0:0:0:0:ffff:0:a00:1]',
    '[::ffff:0:a9fe:a9fe]',
    '[::127.0.0.1]',
    '[64:ff9b::169.254.169.254]',
    '[64:ff9b:1::7f00:1]',
    '[64:ff9b:1:ffff:ffff::d6b:698]',
    '[2001:0:4136:e378:8000:63bf:80ff:fffe]',
    '[2002:c0a8:101::1]',
  ])('%s is denied', (authority) => {
    const target = parseTarget(authority) as Target;
    expect(guard.check(target.address as IpAddress).allowed).toBe(false);
  });

  test('the translated form names what it embeds', () => {
    expect(guard.check(toAddress(6, toNumber('::ffff:0:7f00:1').value)).reason).toBe(
      '::ffff:0:7f00:1 (IPv4-translated 127.0.0.1, loopback)',
    );
  });
});
