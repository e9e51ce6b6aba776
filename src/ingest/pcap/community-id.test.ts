import { createHash } from 'node:crypto';
import { expect, test } from 'vitest';
import { addressBytes } from '../../../test/fixtures/pcap/capture-writer.js';
import { communityId } from './community-id.js';

function idOf(
  src: string,
  dst: string,
  protocol: number,
  srcPort: number,
  dstPort: number,
  seed = 0,
): string {
  const a = addressBytes(src);
  const b = addressBytes(dst);
  return communityId(Buffer.concat([a, b]), 0, a.length, a.length, protocol, srcPort, dstPort, seed);
}

/** The specification's formula with node:crypto, for comparison. */
function reference(
  src: string,
  dst: string,
  protocol: number,
  srcPort: number,
  dstPort: number,
  seed = 0,
): string {
  let [a, b, pa, pb] = [addressBytes(src), addressBytes(dst), srcPort, dstPort];
  if (Buffer.compare(a, b) > 0 || (Buffer.compare(a, b) === 0 && pa > pb)) [a, b, pa, pb] = [b, a, pb, pa];
  const tail = Buffer.alloc(6);
  tail[0] = protocol;
  tail.writeUInt16BE(pa, 2);
  tail.writeUInt16BE(pb, 4);
  const seedBytes = Buffer.alloc(2);
  seedBytes.writeUInt16BE(seed, 0);
  return `1:${createHash('sha1')
    .update(Buffer.concat([seedBytes, a, b, tail]))
    .digest('base64')}`;
}

test('the specification example (also what tshark prints)', () => {
  expect(idOf('128.232.110.120', '66.35.250.204', 6, 34855, 80)).toBe('1:LQU9qZlK+B5F3KDmev6m5PMibrg=');
  expect(idOf('66.35.250.204', '128.232.110.120', 6, 80, 34855)).toBe('1:LQU9qZlK+B5F3KDmev6m5PMibrg=');
});

test('matches node:crypto for IPv4 and IPv6 tuples, both directions, with seeds', () => {
  let state = 42;
  const next = (limit: number) => {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return state % limit;
  };
  for (let i = 0; i < 500; i++) {
    const v6 = i % 2 === 1;
    const address = () =>
      v6
        ? Array.from({ length: 8 }, () => next(65536).toString(16)).join(':')
        : Array.from({ length: 4 }, () => next(256)).join('.');
    const [src, dst] = [address(), i % 50 === 0 ? '10.0.0.1' : address()];
    const [srcPort, dstPort, protocol, seed] = [
      next(65536),
      next(65536),
      i % 3 === 0 ? 17 : 6,
      i % 7 === 0 ? next(65536) : 0,
    ];
    const from = v6 || i % 50 !== 0 ? src : '10.0.0.1';
    expect(idOf(from, dst, protocol, srcPort, dstPort, seed)).toBe(
      reference(from, dst, protocol, srcPort, dstPort, seed),
    );
  }
});
