// Longest-prefix match over a fixed set of IPv4 and IPv6 prefixes, built in one pass: the prefixes
// sorted by network address in typed arrays, each with the index of the nearest prefix that
// contains it. A lookup is a binary search for the last network at or before the address, then a
// walk up that chain. Pure, no I/O. PrefixTrie answers the same questions and takes prefixes one
// at a time; this table is for a set known up front (the policy's catalog prefixes), where
// building a trie of hundreds of 256-slot nodes on a process's first address cost tens of
// milliseconds of cold code (docs/performance.md, "Cold costs (x-warm)").
import { type IpAddress, type IpPrefix, wordAt } from './ip.js';

/** One address family: the prefixes sorted by (network, length), 1 or 4 32-bit words each. */
interface Family<V> {
  readonly words: number;
  readonly count: number;
  /** Network addresses, `words` unsigned words per prefix, most significant first. */
  readonly starts: Uint32Array;
  readonly lengths: Uint8Array;
  /** The nearest prefix containing each one (index into this family), or -1. */
  readonly parents: Int32Array;
  /** `slotCount` values per prefix. */
  readonly values: readonly (V | undefined)[];
}

/** Writes the address bytes as big-endian 32-bit words at `at`. */
function writeWords(bytes: Uint8Array, out: Uint32Array, at: number): void {
  for (let w = 0; w < bytes.length >> 2; w++) out[at + w] = wordAt(bytes, w << 2);
}

/** True when `key[keyAt..]` lies in the prefix of `length` bits starting at `starts[at..]`. */
function within(starts: Uint32Array, at: number, length: number, key: Uint32Array, keyAt: number): boolean {
  for (let w = 0, bits = length; bits > 0; w++, bits -= 32) {
    const mask = bits >= 32 ? 0xffffffff : ~(0xffffffff >>> bits);
    if ((((key[keyAt + w] as number) ^ (starts[at + w] as number)) & mask) !== 0) return false;
  }
  return true;
}

/** Unsigned comparison of two word sequences. */
function compareWords(a: Uint32Array, aAt: number, b: Uint32Array, bAt: number, words: number): number {
  for (let w = 0; w < words; w++) {
    const x = a[aAt + w] as number;
    const y = b[bAt + w] as number;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

function buildFamily<V>(
  prefixes: readonly IpPrefix[],
  values: readonly (V | undefined)[],
  slotCount: number,
  version: 4 | 6,
): Family<V> {
  const words = version === 4 ? 1 : 4;
  const chosen: number[] = [];
  for (let i = 0; i < prefixes.length; i++) if ((prefixes[i] as IpPrefix).version === version) chosen.push(i);
  const count = chosen.length;
  const raw = new Uint32Array(count * words);
  for (let k = 0; k < count; k++)
    writeWords((prefixes[chosen[k] as number] as IpPrefix).bytes, raw, k * words);
  const order = chosen.map((_, k) => k);
  order.sort(
    (a, b) =>
      compareWords(raw, a * words, raw, b * words, words) ||
      (prefixes[chosen[a] as number] as IpPrefix).length - (prefixes[chosen[b] as number] as IpPrefix).length,
  );
  const starts = new Uint32Array(count * words);
  const lengths = new Uint8Array(count);
  const parents = new Int32Array(count);
  const sortedValues: (V | undefined)[] = new Array(count * slotCount);
  // The prefixes that contain the current one, innermost last (sorted order visits a prefix
  // before everything inside it).
  const open: number[] = [];
  for (let i = 0; i < count; i++) {
    const k = order[i] as number;
    const source = chosen[k] as number;
    const length = (prefixes[source] as IpPrefix).length;
    starts.set(raw.subarray(k * words, k * words + words), i * words);
    lengths[i] = length;
    for (let s = 0; s < slotCount; s++) sortedValues[i * slotCount + s] = values[source * slotCount + s];
    while (open.length > 0) {
      const top = open[open.length - 1] as number;
      if (within(starts, top * words, lengths[top] as number, starts, i * words)) break;
      open.pop();
    }
    parents[i] = open.length > 0 ? (open[open.length - 1] as number) : -1;
    open.push(i);
  }
  return { words, count, starts, lengths, parents, values: sortedValues };
}

export class PrefixTable<V> {
  readonly slotCount: number;
  readonly #v4: Family<V>;
  readonly #v6: Family<V>;
  /** The looked-up address as words; lookups are synchronous, so one per table does. */
  readonly #key = new Uint32Array(4);

  /**
   * A table of distinct prefixes (the caller merges duplicates): `values[i * slotCount + slot]` is
   * prefix i's value in that slot, `undefined` for none.
   */
  constructor(prefixes: readonly IpPrefix[], values: readonly (V | undefined)[], slotCount: number) {
    this.slotCount = slotCount;
    this.#v4 = buildFamily(prefixes, values, slotCount, 4);
    this.#v6 = buildFamily(prefixes, values, slotCount, 6);
  }

  get size(): number {
    return this.#v4.count + this.#v6.count;
  }

  /** The value of the longest prefix containing `address` in `slot` that `accept` (if given) takes. */
  lookup(address: IpAddress, slot: number, accept?: (value: V) => boolean): V | undefined {
    const family = address.version === 4 ? this.#v4 : this.#v6;
    const { words, starts, lengths, parents, values } = family;
    const key = this.#key;
    writeWords(address.bytes, key, 0);
    // The last prefix whose network is at or before the address: the longest containing it, or
    // one whose chain of containing prefixes leads to it.
    let lo = 0;
    let hi = family.count - 1;
    let at = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (compareWords(starts, mid * words, key, 0, words) <= 0) {
        at = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    const slots = this.slotCount;
    for (; at >= 0; at = parents[at] as number) {
      if (!within(starts, at * words, lengths[at] as number, key, 0)) continue;
      const value = values[at * slots + slot];
      if (value !== undefined && (accept === undefined || accept(value))) return value;
    }
    return undefined;
  }
}
