import { describe, expect, test } from 'vitest';
import { loadBuiltinCatalog } from '../catalog/load.js';
import { Random } from '../util/random.js';
import { formatIp, formatPrefix, type IpAddress, type IpPrefix, parseIp, parsePrefix } from './ip.js';
import { PrefixTable } from './prefix-table.js';
import { PrefixTrie } from './prefix-trie.js';

const ip = (text: string): IpAddress => {
  const parsed = parseIp(text);
  if (!parsed) throw new Error(text);
  return parsed;
};
const prefix = (text: string): IpPrefix => {
  const parsed = parsePrefix(text);
  if (typeof parsed === 'string') throw new Error(parsed);
  return parsed;
};

/** The same prefixes as a table and as a trie, with `slots` values per prefix (some left empty). */
function both(prefixes: readonly IpPrefix[], slots: number, random: Random) {
  const trie = new PrefixTrie<number>(slots);
  const values: (number | undefined)[] = [];
  prefixes.forEach((p, i) => {
    for (let slot = 0; slot < slots; slot++) {
      // Slot 0 always holds a value; the others skip some prefixes, so lookups walk past them.
      const value = slot === 0 || random.next() < 0.6 ? i * slots + slot : undefined;
      values.push(value);
      if (value !== undefined) trie.set(p, slot, value);
    }
  });
  return { trie, table: new PrefixTable(prefixes, values, slots) };
}

/** The address `offset` away from `base` (wrapping), as the same family. */
function offsetAddress(base: IpAddress, offset: number): IpAddress {
  const bytes = new Uint8Array(base.bytes);
  let carry = offset;
  for (let i = bytes.length - 1; i >= 0 && carry !== 0; i--) {
    const sum = (bytes[i] as number) + carry;
    bytes[i] = ((sum % 256) + 256) % 256;
    carry = Math.floor(sum / 256);
  }
  return { version: base.version, bytes };
}

/** The last address of a prefix. */
function lastAddress(p: IpPrefix): IpAddress {
  const bytes = new Uint8Array(p.bytes);
  for (let bit = p.length; bit < bytes.length * 8; bit++)
    bytes[bit >> 3] = (bytes[bit >> 3] as number) | (0x80 >> (bit & 7));
  return { version: p.version, bytes };
}

/** A random address inside a prefix. */
function inside(p: IpPrefix, random: Random): IpAddress {
  const bytes = new Uint8Array(p.bytes);
  for (let bit = p.length; bit < bytes.length * 8; bit++) {
    if (random.next() < 0.5) bytes[bit >> 3] = (bytes[bit >> 3] as number) | (0x80 >> (bit & 7));
  }
  return { version: p.version, bytes };
}

/** Addresses at, inside and just outside each prefix's edges. */
function probes(prefixes: readonly IpPrefix[], random: Random): IpAddress[] {
  const out: IpAddress[] = [];
  for (const p of prefixes) {
    const last = lastAddress(p);
    out.push(p, last, offsetAddress(p, -1), offsetAddress(last, 1), inside(p, random), inside(p, random));
  }
  return out;
}

function expectSameAnswers(
  prefixes: readonly IpPrefix[],
  addresses: readonly IpAddress[],
  slots: number,
  random: Random,
): number {
  const { trie, table } = both(prefixes, slots, random);
  // An accept that refuses some values makes the table walk further up its chains.
  const refuseOdd = (value: number) => value % 2 === 0;
  let found = 0;
  for (const address of addresses) {
    for (let slot = 0; slot < slots; slot++) {
      const expected = trie.lookup(address, slot);
      if (expected !== undefined) found++;
      const text = `${formatIp(address)} slot ${slot}`;
      expect(table.lookup(address, slot), text).toBe(expected);
      expect(table.lookup(address, slot, refuseOdd), `${text}, odd refused`).toBe(
        trie.lookup(address, slot, refuseOdd),
      );
    }
  }
  return found;
}

describe('PrefixTable', () => {
  const table = new PrefixTable<string>(
    ['13.73.248.0/24', '13.73.248.4/31', '0.0.0.0/0', '2001:db8::/32', '2001:db8:e5::/48'].map(prefix),
    ['wide', 'narrow', 'default-v4', 'v6-wide', 'v6-narrow'],
    1,
  );

  test('longest prefix wins, families never mix', () => {
    expect(table.lookup(ip('13.73.248.5'), 0)).toBe('narrow');
    expect(table.lookup(ip('13.73.248.6'), 0)).toBe('wide');
    expect(table.lookup(ip('8.8.8.8'), 0)).toBe('default-v4');
    expect(table.lookup(ip('2001:db8:e5::7'), 0)).toBe('v6-narrow');
    expect(table.lookup(ip('2001:db8:1::7'), 0)).toBe('v6-wide');
    expect(table.lookup(ip('2001:db9::1'), 0)).toBeUndefined();
    expect(table.lookup(ip('::'), 0)).toBeUndefined();
    expect(table.size).toBe(5);
  });

  test('an address after a nested prefix finds the prefix around both', () => {
    // 10.1.0.0/16 sorts after 10.0.0.0/8's start and before 10.2.3.4; the walk goes up from it.
    const nested = new PrefixTable<string>(
      ['10.0.0.0/8', '10.1.0.0/16', '10.1.2.0/24'].map(prefix),
      ['eight', 'sixteen', 'twenty-four'],
      1,
    );
    expect(nested.lookup(ip('10.1.3.1'), 0)).toBe('sixteen');
    expect(nested.lookup(ip('10.2.3.4'), 0)).toBe('eight');
    expect(nested.lookup(ip('10.1.2.255'), 0)).toBe('twenty-four');
    expect(nested.lookup(ip('11.0.0.0'), 0)).toBeUndefined();
    expect(nested.lookup(ip('9.255.255.255'), 0)).toBeUndefined();
  });

  test('answers like PrefixTrie on every built-in prefix, at its edges and around it', () => {
    const texts = loadBuiltinCatalog().catalog.rules.flatMap((rule) => rule.prefixes ?? []);
    const distinct = [...new Map(texts.map((text) => [formatPrefix(prefix(text)), prefix(text)])).values()];
    expect(distinct.length).toBeGreaterThan(500);
    const random = new Random(20261206);
    const addresses = probes(distinct, random);
    // Random addresses near the catalog's networks (same first bytes) and anywhere.
    for (let i = 0; i < 5000; i++) {
      const near = random.pick(distinct);
      addresses.push(offsetAddress(near, random.int(-70000, 70000)));
      const bytes = new Uint8Array(random.next() < 0.5 ? 4 : 16).map(() => random.int(0, 255));
      addresses.push({ version: bytes.length === 4 ? 4 : 6, bytes });
    }
    const found = expectSameAnswers(distinct, addresses, 5, random);
    expect(found).toBeGreaterThan(distinct.length * 3);
  });

  test('answers like PrefixTrie on random nested prefixes of every length', () => {
    const random = new Random(7);
    const prefixes = new Map<string, IpPrefix>();
    const add = (p: IpPrefix) =>
      prefixes.set(formatPrefix(p), { ...p, bytes: prefix(formatPrefix(p)).bytes });
    // Chains of nested prefixes (each inside the one before), so lookups walk parent links.
    for (let chain = 0; chain < 60; chain++) {
      const version = chain % 2 === 0 ? 4 : 6;
      const width = version === 4 ? 32 : 128;
      const bytes = new Uint8Array(width / 8).map(() => random.int(0, 255));
      for (let length = random.int(0, 6); length <= width; length += random.int(1, width / 8)) {
        const masked = new Uint8Array(bytes);
        for (let bit = length; bit < width; bit++)
          masked[bit >> 3] = (masked[bit >> 3] as number) & ~(0x80 >> (bit & 7));
        add({ version, bytes: masked, length });
      }
    }
    const list = [...prefixes.values()];
    const addresses = probes(list, random);
    const found = expectSameAnswers(list, addresses, 3, random);
    expect(found).toBeGreaterThan(list.length);
  });
});
