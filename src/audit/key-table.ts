// FlowKeyTable: the audit counter's learned keys (src/audit/flow-counter.ts) to their rows, found by
// one hash probe per counted flow. A key is either a name's bytes with a small number (the port and
// path the counter packs), or an IPv4 address with such a number. Names are copied into a pool the
// table owns, so a probe compares the line's bytes with the pooled copy and never makes a string.
// Before this table the counter interned a name (one probe and a compare) and then looked the
// name's id up in a second table (another probe): docs/performance.md, "Audit on one core,
// session 7".

/** Places the table starts with (it doubles when half full). */
const FIRST_PLACES = 1024;

/** Pool bytes the table starts with (it doubles up to its byte limit). */
const FIRST_POOL_BYTES = 1 << 14;

/** Bits of an entry's second int that hold the key's number; the name's length sits above them. */
const NUMBER_BITS = 21;

/** Longest name the table keeps (its length shares an int32 with the number). */
export const MAX_NAME_BYTES = (1 << (32 - NUMBER_BITS - 1)) - 1;

/** Bytes of names held per key, for a table of many keys (8 MiB for 131,072). */
const NAME_BYTES_PER_KEY = 64;

/** The smallest name pool: a table counts as full once a name of MAX_NAME_BYTES might not fit. */
const LEAST_POOL_BYTES = 1 << 21;

/**
 * The byte limit of the name pools (this table's and the WebAssembly scanner's, which must fill at
 * the same key) for `limit` keys. Never under 2 MiB: a pool of a few keys' bytes would be full from
 * the start (the room for one longest name), and its table would learn nothing.
 */
export function namePoolBytes(limit: number): number {
  return Math.max(limit * NAME_BYTES_PER_KEY, LEAST_POOL_BYTES);
}

/** Largest number a key may carry. */
export const MAX_KEY_NUMBER = (1 << NUMBER_BITS) - 1;

/** Entries are four int32s side by side, so that a probe reads one cache line. */
const STRIDE = 4;

/**
 * Keys to rows 0, 1, ... by open addressing (linear probing) in one Int32Array of entries
 * (hash or address, number and name length, row + 1, pool offset or -1). Holds at most `limit`
 * keys and `poolLimit` bytes of names; `full` says when one more might not fit, and the owner then
 * starts over with clear(). The table starts small and doubles as keys come (at most half full).
 */
export class FlowKeyTable {
  // Placeholders, replaced by clear() in the constructor: V8 compiles a field stored only once
  // into the code that reads it as a constant, and the first growth (a new array, a new mask)
  // would then throw the counter's optimized code away. Stored twice, they are variables from the
  // start (docs/performance.md, "Audit on one core, session 7").
  #entries = new Int32Array(0);
  #mask = 0;
  #pool = new Uint8Array(0);
  #used = -1;
  count = -1;

  constructor(
    readonly limit = 1 << 15,
    readonly poolLimit = 1 << 21,
  ) {
    this.clear();
  }

  /** True when the next add might not fit (a key, or a name of MAX_NAME_BYTES). */
  get full(): boolean {
    return this.count >= this.limit || this.#used + MAX_NAME_BYTES > this.poolLimit;
  }

  /**
   * The row of the name `b[start, end)` with `number`, or -1. `hash` is fnv1a() of the bytes (the
   * parsers compute it as they read them). A name longer than MAX_NAME_BYTES is never found.
   */
  findName(b: Uint8Array, start: number, end: number, hash: number, number: number): number {
    const length = end - start;
    if (length > MAX_NAME_BYTES) return -1; // its length would not fit beside the number
    const packed = number | (length << NUMBER_BITS);
    const entries = this.#entries;
    const mask = this.#mask;
    let place = placeOf(hash, packed) & mask;
    for (;;) {
      const at = place * STRIDE;
      const rowPlusOne = entries[at + 2] as number;
      if (rowPlusOne === 0) return -1;
      const offset = entries[at + 3] as number;
      if (entries[at] === hash && entries[at + 1] === packed && offset >= 0) {
        const pool = this.#pool;
        const from = offset - start;
        let i = start;
        while (i < end && pool[from + i] === b[i]) i++;
        if (i === end) return rowPlusOne - 1;
      }
      place = (place + 1) & mask;
    }
  }

  /** The row of the IPv4 address `address` (its int32 value) with `number`, or -1. */
  findAddress(address: number, number: number): number {
    const entries = this.#entries;
    const mask = this.#mask;
    let place = placeOf(address, number) & mask;
    for (;;) {
      const at = place * STRIDE;
      const rowPlusOne = entries[at + 2] as number;
      if (rowPlusOne === 0) return -1;
      if (entries[at] === address && entries[at + 1] === number && entries[at + 3] === -1)
        return rowPlusOne - 1;
      place = (place + 1) & mask;
    }
  }

  /**
   * Copies a name that findName() did not find to the end of the pool, without adding it: the
   * owner adds it with addPending() once it knows the name's row. Returns false (nothing copied)
   * when the name is too long or would pass the byte limit.
   */
  holdName(b: Uint8Array, start: number, end: number): boolean {
    const length = end - start;
    if (length > MAX_NAME_BYTES || this.#used + length > this.poolLimit) return false;
    if (this.#used + length > this.#pool.length) {
      let size = this.#pool.length * 2;
      while (size < this.#used + length) size *= 2;
      const pool = new Uint8Array(Math.min(size, this.poolLimit));
      pool.set(this.#pool.subarray(0, this.#used));
      this.#pool = pool;
    }
    copyBytes(b, start, end, this.#pool, this.#used);
    return true;
  }

  /**
   * Adds the name holdName() copied last (`length` bytes, `hash` its fnv1a()) with `number` at
   * `row`. The name must not be in the table and the table must not be full.
   */
  addPending(length: number, hash: number, number: number, row: number): void {
    this.#add(hash, number | (length << NUMBER_BITS), row + 1, this.#used);
    this.#used += length;
  }

  /** Adds an address that findAddress() did not find (the table is not full). */
  addAddress(address: number, number: number, row: number): void {
    this.#add(address, number, row + 1, -1);
  }

  #add(first: number, packed: number, rowPlusOne: number, offset: number): void {
    if ((this.count + 1) * 2 > this.#mask + 1) this.#grow();
    this.#put(first, packed, rowPlusOne, offset);
    this.count++;
  }

  #put(first: number, packed: number, rowPlusOne: number, offset: number): void {
    const entries = this.#entries;
    const mask = this.#mask;
    let place = placeOf(first, packed) & mask;
    while (entries[place * STRIDE + 2] !== 0) place = (place + 1) & mask;
    const at = place * STRIDE;
    entries[at] = first;
    entries[at + 1] = packed;
    entries[at + 2] = rowPlusOne;
    entries[at + 3] = offset;
  }

  #grow(): void {
    const old = this.#entries;
    this.#entries = new Int32Array(old.length * 2);
    this.#mask = (old.length * 2) / STRIDE - 1;
    for (let at = 0; at < old.length; at += STRIDE) {
      const rowPlusOne = old[at + 2] as number;
      if (rowPlusOne !== 0)
        this.#put(old[at] as number, old[at + 1] as number, rowPlusOne, old[at + 3] as number);
    }
  }

  /** Places the table has now (a power of two; for tests). */
  get places(): number {
    return this.#mask + 1;
  }

  clear(): void {
    this.#entries = new Int32Array(FIRST_PLACES * STRIDE);
    this.#mask = FIRST_PLACES - 1;
    this.#pool = new Uint8Array(FIRST_POOL_BYTES);
    this.#used = 0;
    this.count = 0;
  }
}

/**
 * Copies `from[start, end)` into `to` at `at`, byte by byte: for the short names the counter keeps,
 * cheaper than `to.set(from.subarray(start, end))`, whose view of a Buffer is a new Buffer (Node's
 * FastBuffer constructor) per call, tens of thousands of times per audit, most of them cold.
 */
export function copyBytes(from: Uint8Array, start: number, end: number, to: Uint8Array, at: number): void {
  for (let i = start; i < end; i++) to[at + i - start] = from[i] as number;
}

function placeOf(a: number, b: number): number {
  const hash = Math.imul(a ^ Math.imul(b, 0x9e3779b1), 0x85ebca6b);
  return hash ^ (hash >>> 15);
}
