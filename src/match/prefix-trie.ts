// Longest-prefix match over IPv4 and IPv6 CIDR prefixes: a binary trie per address family,
// with one value per slot like HostIndex. Pure, no I/O.
import type { IpAddress, IpPrefix } from './ip.js';

interface PrefixNode<V> {
  zero: PrefixNode<V> | undefined;
  one: PrefixNode<V> | undefined;
  values: (V | undefined)[] | undefined;
}

function newNode<V>(): PrefixNode<V> {
  return { zero: undefined, one: undefined, values: undefined };
}

export class PrefixTrie<V> {
  readonly slotCount: number;
  #v4: PrefixNode<V> = newNode();
  #v6: PrefixNode<V> = newNode();
  #size = 0;

  constructor(slotCount: number) {
    this.slotCount = slotCount;
  }

  get size(): number {
    return this.#size;
  }

  set(prefix: IpPrefix, slot: number, value: V): V | undefined {
    let node = prefix.version === 4 ? this.#v4 : this.#v6;
    for (let bit = 0; bit < prefix.length; bit++) {
      const set = ((prefix.bytes[bit >> 3] as number) >> (7 - (bit & 7))) & 1;
      if (set) {
        node.one ??= newNode();
        node = node.one;
      } else {
        node.zero ??= newNode();
        node = node.zero;
      }
    }
    node.values ??= new Array<V | undefined>(this.slotCount).fill(undefined);
    const values = node.values;
    const previous = values[slot];
    values[slot] = value;
    if (previous === undefined) this.#size++;
    return previous;
  }

  /** The value stored for exactly this prefix and slot (not a match). */
  lookupPrefix(prefix: IpPrefix, slot: number): V | undefined {
    let node: PrefixNode<V> | undefined = prefix.version === 4 ? this.#v4 : this.#v6;
    for (let bit = 0; bit < prefix.length && node !== undefined; bit++) {
      node = ((prefix.bytes[bit >> 3] as number) >> (7 - (bit & 7))) & 1 ? node.one : node.zero;
    }
    return node?.values?.[slot];
  }

  /** The value of the longest prefix containing `address` in `slot` that `accept` (if given) takes. */
  lookup(address: IpAddress, slot: number, accept?: (value: V) => boolean): V | undefined {
    let node: PrefixNode<V> | undefined = address.version === 4 ? this.#v4 : this.#v6;
    const bytes = address.bytes;
    const bits = bytes.length * 8;
    let best: V | undefined;
    for (let bit = 0; node !== undefined; bit++) {
      const value = node.values?.[slot];
      if (value !== undefined && (accept === undefined || accept(value))) best = value;
      if (bit === bits) break;
      node = ((bytes[bit >> 3] as number) >> (7 - (bit & 7))) & 1 ? node.one : node.zero;
    }
    return best;
  }
}
