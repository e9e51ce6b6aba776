// A reversed-label trie over host patterns, compiled once per catalog. Each pattern holds one
// value per "slot" (the policy uses one slot per component), so a lookup is a walk of at most
// as many map probes as the name has labels, with no backtracking and no allocation beyond the
// label slices. Which value sits in a slot is the caller's choice; the index only knows
// "exact beats wildcard, longer wildcard suffix beats shorter".
import type { HostPattern } from './host.js';

interface HostNode<V> {
  children: Map<string, HostNode<V>> | undefined;
  exact: (V | undefined)[] | undefined;
  wildcard: (V | undefined)[] | undefined;
}

function newNode<V>(): HostNode<V> {
  return { children: undefined, exact: undefined, wildcard: undefined };
}

export class HostIndex<V> {
  readonly slotCount: number;
  #root: HostNode<V> = newNode();
  #size = 0;

  constructor(slotCount: number) {
    this.slotCount = slotCount;
  }

  /** Number of (pattern, slot) entries. */
  get size(): number {
    return this.#size;
  }

  /** Sets the value of one pattern for one slot; returns the value it replaced, if any. */
  set(pattern: HostPattern, slot: number, value: V): V | undefined {
    const name = pattern.kind === 'exact' ? pattern.name : pattern.suffix;
    let node = this.#root;
    const labels = name.split('.');
    for (let i = labels.length - 1; i >= 0; i--) {
      const label = labels[i] as string;
      node.children ??= new Map();
      let child = node.children.get(label);
      if (child === undefined) {
        child = newNode();
        node.children.set(label, child);
      }
      node = child;
    }
    const field = pattern.kind === 'exact' ? 'exact' : 'wildcard';
    node[field] ??= new Array<V | undefined>(this.slotCount).fill(undefined);
    const slots = node[field];
    const previous = slots[slot];
    slots[slot] = value;
    if (previous === undefined) this.#size++;
    return previous;
  }

  /** The value stored for exactly this pattern and slot (not a match). */
  lookupPattern(pattern: HostPattern, slot: number): V | undefined {
    const name = pattern.kind === 'exact' ? pattern.name : pattern.suffix;
    let node: HostNode<V> | undefined = this.#root;
    const labels = name.split('.');
    for (let i = labels.length - 1; i >= 0 && node !== undefined; i--) {
      node = node.children?.get(labels[i] as string);
    }
    return node?.[pattern.kind === 'exact' ? 'exact' : 'wildcard']?.[slot];
  }

  /**
   * The value of the most specific pattern matching `host` (canonical form) in `slot`:
   * an exact name first, then the wildcard with the longest suffix. With `accept`, values it
   * rejects are passed over as if absent (the next most specific one is taken).
   */
  lookup(host: string, slot: number, accept?: (value: V) => boolean): V | undefined {
    let node = this.#root;
    let best: V | undefined;
    let end = host.length;
    for (;;) {
      const dot = end === 0 ? -1 : host.lastIndexOf('.', end - 1);
      const child = node.children?.get(host.slice(dot + 1, end));
      if (child === undefined) return best;
      if (dot < 0) {
        const exact = child.exact?.[slot];
        return exact === undefined || (accept !== undefined && !accept(exact)) ? best : exact;
      }
      const wildcard = child.wildcard?.[slot];
      if (wildcard !== undefined && (accept === undefined || accept(wildcard))) best = wildcard;
      node = child;
      end = dot;
    }
  }
}
