// Longest-prefix match over IPv4 and IPv6 CIDR prefixes, with one value per slot like HostIndex.
// Pure, no I/O. The trie steps one address byte at a time (4 steps for IPv4, at most 16 for IPv6,
// instead of one per bit): a prefix whose length is not a multiple of 8 sits in the node of its
// last whole byte, with the bits of its partial byte checked under a mask.
import type { IpAddress, IpPrefix } from './ip.js';

/** One prefix, stored in the node reached by its whole bytes. */
interface PrefixEntry<V> {
  length: number;
  /** Mask and value of the bits it fixes in the next byte (mask 0 for a whole-byte length). */
  mask: number;
  bits: number;
  values: (V | undefined)[];
}

interface ByteNode<V> {
  /** By the next address byte: an array of 256, indexed without hashing (a Map probe costs more). */
  children: (ByteNode<V> | undefined)[] | undefined;
  /** Prefixes ending inside the next byte (or exactly here), longest first. */
  entries: PrefixEntry<V>[] | undefined;
}

function newNode<V>(): ByteNode<V> {
  return { children: undefined, entries: undefined };
}

/** Mask of the first `bits` (0-7) bits of a byte. */
function partialMask(bits: number): number {
  return (0xff00 >> bits) & 0xff;
}

export class PrefixTrie<V> {
  readonly slotCount: number;
  #v4: ByteNode<V> = newNode();
  #v6: ByteNode<V> = newNode();
  #size = 0;

  constructor(slotCount: number) {
    this.slotCount = slotCount;
  }

  get size(): number {
    return this.#size;
  }

  set(prefix: IpPrefix, slot: number, value: V): V | undefined {
    const whole = prefix.length >> 3;
    let node = prefix.version === 4 ? this.#v4 : this.#v6;
    for (let depth = 0; depth < whole; depth++) {
      const byte = prefix.bytes[depth] as number;
      node.children ??= new Array<ByteNode<V> | undefined>(256).fill(undefined);
      let child = node.children[byte];
      if (child === undefined) {
        child = newNode();
        node.children[byte] = child;
      }
      node = child;
    }
    let entry = findEntry(node, prefix, whole);
    if (entry === undefined) {
      const mask = partialMask(prefix.length & 7);
      entry = {
        length: prefix.length,
        mask,
        bits: ((prefix.bytes[whole] ?? 0) as number) & mask,
        values: new Array<V | undefined>(this.slotCount).fill(undefined),
      };
      node.entries ??= [];
      node.entries.push(entry);
      node.entries.sort((a, b) => b.length - a.length);
    }
    const previous = entry.values[slot];
    entry.values[slot] = value;
    if (previous === undefined) this.#size++;
    return previous;
  }

  /** The value stored for exactly this prefix and slot (not a match). */
  lookupPrefix(prefix: IpPrefix, slot: number): V | undefined {
    const whole = prefix.length >> 3;
    let node: ByteNode<V> | undefined = prefix.version === 4 ? this.#v4 : this.#v6;
    for (let depth = 0; depth < whole && node !== undefined; depth++) {
      node = node.children?.[prefix.bytes[depth] as number];
    }
    return node === undefined ? undefined : findEntry(node, prefix, whole)?.values[slot];
  }

  /** The value of the longest prefix containing `address` in `slot` that `accept` (if given) takes. */
  lookup(address: IpAddress, slot: number, accept?: (value: V) => boolean): V | undefined {
    const bytes = address.bytes;
    let node: ByteNode<V> | undefined = address.version === 4 ? this.#v4 : this.#v6;
    let best: V | undefined;
    for (let depth = 0; node !== undefined; depth++) {
      const entries = node.entries;
      if (entries !== undefined) {
        const byte = depth < bytes.length ? (bytes[depth] as number) : 0;
        // Longest first, and every entry of a deeper node is longer than these: the first one
        // that matches and is taken is the best so far.
        for (let i = 0; i < entries.length; i++) {
          const entry = entries[i] as PrefixEntry<V>;
          if ((byte & entry.mask) !== entry.bits) continue;
          const value = entry.values[slot];
          if (value !== undefined && (accept === undefined || accept(value))) {
            best = value;
            break;
          }
        }
      }
      if (depth === bytes.length) break;
      node = node.children?.[bytes[depth] as number];
    }
    return best;
  }
}

function findEntry<V>(node: ByteNode<V>, prefix: IpPrefix, whole: number): PrefixEntry<V> | undefined {
  if (node.entries === undefined) return undefined;
  const mask = partialMask(prefix.length & 7);
  const bits = ((prefix.bytes[whole] ?? 0) as number) & mask;
  return node.entries.find((entry) => entry.length === prefix.length && entry.bits === bits);
}
