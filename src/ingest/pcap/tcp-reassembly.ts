// Puts the first bytes a TCP client sent back in sequence order, so a ClientHello or request head
// split over segments, delivered out of order or retransmitted can be read. Only a bounded prefix
// of each stream is kept (16 KiB by default), and all streams share a byte budget.

/** Bytes held by all stream heads of one capture, and the most they may hold. */
export class ReassemblyBudget {
  used = 0;
  constructor(readonly limit: number) {}
}

/** Most disjoint byte ranges a head tracks; segments that would add more are dropped. */
const MAX_RANGES = 64;
const INITIAL_CAPACITY = 2048;

export class StreamHead {
  readonly #base: number;
  readonly #limit: number;
  readonly #budget: ReassemblyBudget;
  #data: Buffer = Buffer.alloc(0);
  /** Sorted, disjoint, non-adjacent `[start, end)` pairs of received bytes, relative to base. */
  readonly #ranges: number[] = [];
  /** Bytes from offset 0 without a hole. */
  #contiguous = 0;
  /** Set when the budget refused to let this head grow. */
  #starved = false;

  /** `base` is the sequence number of the stream's first byte. */
  constructor(base: number, limit: number, budget: ReassemblyBudget) {
    this.#base = base >>> 0;
    this.#limit = limit;
    this.#budget = budget;
  }

  get data(): Buffer {
    return this.#data;
  }

  get contiguous(): number {
    return this.#contiguous;
  }

  /** True when no more bytes can help: the limit is reached or the budget ran out. */
  get exhausted(): boolean {
    return this.#starved || this.#contiguous >= this.#limit;
  }

  /**
   * Adds the segment payload `payload[offset, offset + length)` that starts at sequence number
   * `seq`. Bytes already held are kept (first copy wins); bytes before the base or beyond the
   * limit are ignored. Returns true when the contiguous prefix grew.
   */
  add(seq: number, payload: Buffer, offset: number, length: number): boolean {
    let relative = (seq - this.#base) | 0; // signed distance, modulo 2^32
    let from = offset;
    let count = length;
    if (relative < 0) {
      if (-relative >= count) return false;
      from -= relative;
      count += relative;
      relative = 0;
    }
    if (relative >= this.#limit || count <= 0) return false;
    if (relative + count > this.#limit) count = this.#limit - relative;
    const end = relative + count;
    if (!this.#reserve(end)) return false;
    if (!this.#insert(relative, end, payload, from)) return false;
    const ranges = this.#ranges;
    const contiguous = ranges[0] === 0 ? (ranges[1] as number) : 0;
    if (contiguous === this.#contiguous) return false;
    this.#contiguous = contiguous;
    return true;
  }

  /** Gives the bytes back to the budget; the head is not used afterwards. */
  release(): void {
    this.#budget.used -= this.#data.length;
    this.#data = Buffer.alloc(0);
    this.#ranges.length = 0;
  }

  #reserve(end: number): boolean {
    const capacity = this.#data.length;
    if (end <= capacity) return true;
    let next = Math.max(INITIAL_CAPACITY, capacity * 2);
    while (next < end) next *= 2;
    if (next > this.#limit) next = this.#limit;
    if (this.#budget.used + next - capacity > this.#budget.limit) {
      this.#starved = true;
      return false;
    }
    const grown = Buffer.alloc(next);
    this.#data.copy(grown, 0, 0, capacity);
    this.#budget.used += next - capacity;
    this.#data = grown;
    return true;
  }

  /** Copies the parts of `[start, end)` not yet held and merges the range in. */
  #insert(start: number, end: number, payload: Buffer, from: number): boolean {
    const ranges = this.#ranges;
    // Copy into the gaps between held ranges.
    let cursor = start;
    for (let i = 0; i < ranges.length && cursor < end; i += 2) {
      const rangeStart = ranges[i] as number;
      const rangeEnd = ranges[i + 1] as number;
      if (rangeEnd <= cursor) continue;
      if (rangeStart >= end) break;
      if (rangeStart > cursor)
        payload.copy(this.#data, cursor, from + (cursor - start), from + (rangeStart - start));
      cursor = Math.max(cursor, rangeEnd);
    }
    if (cursor < end) payload.copy(this.#data, cursor, from + (cursor - start), from + (end - start));
    // Merge: find the ranges that overlap or touch [start, end).
    let first = 0;
    while (first < ranges.length && (ranges[first + 1] as number) < start) first += 2;
    let last = first;
    let mergedStart = start;
    let mergedEnd = end;
    while (last < ranges.length && (ranges[last] as number) <= end) {
      mergedStart = Math.min(mergedStart, ranges[last] as number);
      mergedEnd = Math.max(mergedEnd, ranges[last + 1] as number);
      last += 2;
    }
    if (last === first && ranges.length >= MAX_RANGES * 2) return false;
    ranges.splice(first, last - first, mergedStart, mergedEnd);
    return true;
  }
}
