// The host patterns of a catalog, compiled once for lookups that neither allocate nor hash
// strings: a lookup reads the name once from right to left, keeping a running hash of the suffix
// read so far, and at each label boundary probes a table with that integer for a pattern with
// exactly that suffix. Each pattern holds one value per "slot" (the policy uses one slot per
// component). Which value sits in a slot is the caller's choice; the index only knows "exact
// beats wildcard, longer wildcard suffix beats shorter".
import type { HostPattern } from './host.js';

interface PatternEntry<V> {
  /** The exact name, or the suffix of a `*.suffix` wildcard (canonical form). */
  name: string;
  hash: number;
  exact: (V | undefined)[] | undefined;
  wildcard: (V | undefined)[] | undefined;
  /** The next entry whose name has the same table key (hash collisions are resolved by comparing). */
  next: PatternEntry<V> | undefined;
}

// FNV-1a over UTF-16 code units, fed from the end of the name towards its start, so that the hash
// of every suffix is known on the way without re-reading it.
const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 0x01000193;

function step(hash: number, code: number): number {
  return Math.imul(hash ^ code, FNV_PRIME);
}

/** Buckets per entry at least (a power of two): chains stay about one entry long. */
const LOAD = 4;

function hashOf(name: string): number {
  let hash = FNV_OFFSET;
  for (let i = name.length - 1; i >= 0; i--) hash = step(hash, name.charCodeAt(i));
  return hash;
}

export class HostIndex<V> {
  readonly slotCount: number;
  /**
   * Open hashing in a plain array indexed by the low bits of the hash: a probe is an array load,
   * several times cheaper than a Map lookup, and a lookup probes once per label.
   */
  #buckets: (PatternEntry<V> | undefined)[] = new Array<PatternEntry<V> | undefined>(16).fill(undefined);
  #mask = 15;
  #entries = 0;
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
    const hash = hashOf(name);
    let entry = this.#find(hash, name, 0);
    if (entry === undefined) {
      if ((this.#entries + 1) * LOAD > this.#buckets.length) this.#grow();
      const bucket = hash & this.#mask;
      entry = { name, hash, exact: undefined, wildcard: undefined, next: this.#buckets[bucket] };
      this.#buckets[bucket] = entry;
      this.#entries++;
    }
    const field = pattern.kind === 'exact' ? 'exact' : 'wildcard';
    entry[field] ??= new Array<V | undefined>(this.slotCount).fill(undefined);
    const slots = entry[field];
    const previous = slots[slot];
    slots[slot] = value;
    if (previous === undefined) this.#size++;
    return previous;
  }

  /** The value stored for exactly this pattern and slot (not a match). */
  lookupPattern(pattern: HostPattern, slot: number): V | undefined {
    const name = pattern.kind === 'exact' ? pattern.name : pattern.suffix;
    const entry = this.#find(hashOf(name), name, 0);
    return entry?.[pattern.kind === 'exact' ? 'exact' : 'wildcard']?.[slot];
  }

  /**
   * The value of the most specific pattern matching `host` (canonical form) in `slot`:
   * an exact name first, then the wildcard with the longest suffix. With `accept`, values it
   * rejects are passed over as if absent (the next most specific one is taken).
   */
  lookup(host: string, slot: number, accept?: (value: V) => boolean): V | undefined {
    let best: V | undefined;
    let hash = FNV_OFFSET;
    for (let i = host.length - 1; i >= 0; i--) {
      const code = host.charCodeAt(i);
      if (code === 0x2e) {
        // host[i + 1..] has at least one label in front of it: a wildcard on it applies, and it
        // is longer than any found so far (we read leftwards), so it is the better one.
        const value = this.#find(hash, host, i + 1)?.wildcard?.[slot];
        if (value !== undefined && (accept === undefined || accept(value))) best = value;
      }
      hash = step(hash, code);
    }
    const exact = this.#find(hash, host, 0)?.exact?.[slot];
    return exact !== undefined && (accept === undefined || accept(exact)) ? exact : best;
  }

  /** The entry whose name is `text` from `start` to its end, given that suffix's hash. */
  #grow(): void {
    const entries = this.#buckets.flatMap((first) => {
      const chain: PatternEntry<V>[] = [];
      for (let entry = first; entry !== undefined; entry = entry.next) chain.push(entry);
      return chain;
    });
    this.#buckets = new Array<PatternEntry<V> | undefined>(this.#buckets.length * 2).fill(undefined);
    this.#mask = this.#buckets.length - 1;
    for (const entry of entries) {
      const bucket = entry.hash & this.#mask;
      entry.next = this.#buckets[bucket];
      this.#buckets[bucket] = entry;
    }
  }

  #find(hash: number, text: string, start: number): PatternEntry<V> | undefined {
    for (let entry = this.#buckets[hash & this.#mask]; entry !== undefined; entry = entry.next) {
      // With the lengths equal, endsWith compares exactly text[start..]; it is the fastest
      // allocation-free comparison V8 offers here (startsWith with a position is several times slower).
      if (entry.name.length === text.length - start && text.endsWith(entry.name)) return entry;
    }
    return undefined;
  }
}
