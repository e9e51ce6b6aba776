import { describe, expect, test } from 'vitest';
import { Random } from '../util/random.js';
import {
  formatIp,
  formatPrefix,
  parseIPv4,
  parseIPv6,
  parseIp,
  parsePrefix,
  prefixContains,
  unmapIPv4,
} from './ip.js';
import { PrefixTrie } from './prefix-trie.js';

const ip = (text: string) => {
  const parsed = parseIp(text);
  if (!parsed) throw new Error(text);
  return parsed;
};
const prefix = (text: string) => {
  const parsed = parsePrefix(text);
  if (typeof parsed === 'string') throw new Error(parsed);
  return parsed;
};

describe('parsing', () => {
  test('IPv4 is strict', () => {
    expect(parseIPv4('13.73.248.4')).toEqual(new Uint8Array([13, 73, 248, 4]));
    for (const bad of ['127.1', '0x7f.0.0.1', '01.2.3.4', '1.2.3.256', '1.2.3', '1.2.3.4.5', '', '1..2.3']) {
      expect(parseIPv4(bad), bad).toBeUndefined();
    }
  });

  test('IPv6 forms', () => {
    expect(formatIp(ip('2001:db8:0:0:0:0:0:1'))).toBe('2001:db8::1');
    expect(formatIp(ip('::'))).toBe('::');
    expect(formatIp(ip('::1'))).toBe('::1');
    expect(formatIp(ip('2001:DB8::'))).toBe('2001:db8::');
    expect(formatIp(ip('::ffff:10.1.2.3'))).toBe('::ffff:a01:203');
    for (const bad of ['1::2::3', '12345::', ':::', '1:2:3:4:5:6:7:8:9', 'g::1', '::1%eth0']) {
      expect(parseIPv6(bad), bad).toBeUndefined();
    }
  });

  test('IPv6: parse and canonical text agree with the WHATWG URL parser on random texts', () => {
    // Random addresses written in every way RFC 4291 allows (and some it does not): zero runs,
    // `::` anywhere, mixed case, leading zeros, a dotted-quad tail, stray characters. The URL
    // parser's host serializer is RFC 5952's canonical text, so the two must agree on every
    // address, and on which texts are addresses at all.
    const random = new Random(20261205);
    const group = () => {
      const roll = random.next();
      if (roll < 0.35) return '0';
      const value = random.int(0, roll < 0.6 ? 0xff : 0xffff).toString(16);
      const padded = random.next() < 0.2 ? value.padStart(4, '0') : value;
      return random.next() < 0.3 ? padded.toUpperCase() : padded;
    };
    let agreed = 0;
    for (let i = 0; i < 20_000; i++) {
      const groups = Array.from({ length: 8 }, group);
      if (random.next() < 0.15) {
        groups.splice(
          6,
          2,
          `${random.int(0, 255)}.${random.int(0, 255)}.${random.int(0, 255)}.${random.int(0, 255)}`,
        );
        if (random.next() < 0.5) groups.splice(0, 6, '0', '0', '0', '0', '0', 'ffff');
      }
      let text = groups.join(':');
      if (random.next() < 0.6) {
        // Replace a run of groups with `::` (sometimes a run of length 0, which is invalid).
        const from = random.int(0, groups.length - 1);
        const to = random.int(from, groups.length);
        text = `${groups.slice(0, from).join(':')}::${groups.slice(to).join(':')}`;
      }
      if (random.next() < 0.05) {
        const at = random.int(0, text.length);
        text = text.slice(0, at) + random.pick([':', '::', 'g', '.', '1', '00000']) + text.slice(at);
      }
      let expected: string | undefined;
      try {
        expected = new URL(`http://[${text}]/`).hostname.slice(1, -1);
      } catch {
        expected = undefined;
      }
      const bytes = parseIPv6(text);
      expect(bytes === undefined ? undefined : formatIp({ version: 6, bytes }), text).toBe(expected);
      if (expected !== undefined) agreed++;
    }
    // Most texts are addresses: the comparison is not only about rejections.
    expect(agreed).toBeGreaterThan(12_000);
  });

  test('prefixes: host bits found and masked byte by byte as a bit-by-bit check does', () => {
    const random = new Random(20261208);
    for (let i = 0; i < 5000; i++) {
      const version = random.next() < 0.5 ? 4 : 6;
      const bytes = new Uint8Array(version === 4 ? 4 : 16);
      for (let b = 0; b < bytes.length; b++) bytes[b] = random.next() < 0.5 ? 0 : random.int(0, 255);
      const max = bytes.length * 8;
      const length = random.int(0, max);
      let hostBits = false;
      const masked = new Uint8Array(bytes);
      for (let bit = length; bit < max; bit++) {
        const mask = 1 << (7 - (bit & 7));
        if ((bytes[bit >> 3] as number) & mask) hostBits = true;
        masked[bit >> 3] = (masked[bit >> 3] as number) & ~mask;
      }
      const text = `${formatIp({ version, bytes })}/${length}`;
      const maskedText = `${formatIp({ version, bytes: masked })}/${length}`;
      const parsed = parsePrefix(text);
      if (hostBits) expect(parsed, text).toBe(`"${text}" has host bits set (did you mean ${maskedText}?)`);
      else expect(parsed, text).toEqual({ version, bytes, length });
      expect(formatPrefix({ version, bytes, length }), text).toBe(maskedText);
    }
  });

  test('IPv4-mapped IPv6 unmaps to IPv4', () => {
    expect(formatIp(unmapIPv4(ip('::ffff:127.0.0.1')))).toBe('127.0.0.1');
    expect(unmapIPv4(ip('2001:db8::1')).version).toBe(6);
  });

  test('prefixes', () => {
    expect(formatPrefix(prefix('13.73.248.0/24'))).toBe('13.73.248.0/24');
    expect(formatPrefix(prefix('2001:db8:e5::/48'))).toBe('2001:db8:e5::/48');
    expect(parsePrefix('13.73.248.1/24')).toContain('host bits set');
    expect(parsePrefix('10.0.0.0/33')).toContain('between 0 and 32');
    expect(parsePrefix('nonsense/8')).toContain('not an IPv4 or IPv6 address');
    expect(prefixContains(prefix('10.0.0.0/8'), ip('10.200.1.1'))).toBe(true);
    expect(prefixContains(prefix('10.0.0.0/8'), ip('11.0.0.1'))).toBe(false);
  });
});

describe('PrefixTrie', () => {
  const trie = new PrefixTrie<string>(1);
  trie.set(prefix('13.73.248.0/24'), 0, 'wide');
  trie.set(prefix('13.73.248.4/31'), 0, 'narrow');
  trie.set(prefix('0.0.0.0/0'), 0, 'default-v4');
  trie.set(prefix('2001:db8::/32'), 0, 'v6-wide');
  trie.set(prefix('2001:db8:e5::/48'), 0, 'v6-narrow');

  test('longest prefix wins (IPv4)', () => {
    expect(trie.lookup(ip('13.73.248.5'), 0)).toBe('narrow');
    expect(trie.lookup(ip('13.73.248.6'), 0)).toBe('wide');
    expect(trie.lookup(ip('8.8.8.8'), 0)).toBe('default-v4');
  });

  test('longest prefix wins (IPv6), families never mix', () => {
    expect(trie.lookup(ip('2001:db8:e5::7'), 0)).toBe('v6-narrow');
    expect(trie.lookup(ip('2001:db8:1::7'), 0)).toBe('v6-wide');
    expect(trie.lookup(ip('2001:db9::1'), 0)).toBeUndefined();
  });

  test('host prefixes (/32, /128) match only their address', () => {
    const hosts = new PrefixTrie<string>(1);
    hosts.set(prefix('192.0.2.7/32'), 0, 'one');
    hosts.set(prefix('2001:db8::7/128'), 0, 'six');
    expect(hosts.lookup(ip('192.0.2.7'), 0)).toBe('one');
    expect(hosts.lookup(ip('192.0.2.8'), 0)).toBeUndefined();
    expect(hosts.lookup(ip('2001:db8::7'), 0)).toBe('six');
    expect(hosts.lookup(ip('2001:db8::6'), 0)).toBeUndefined();
  });
});
