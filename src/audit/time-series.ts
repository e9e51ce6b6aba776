// Bytes per path and per verdict over time, in buckets chosen from the time range, with memory
// bounded however long the logs run. The audit does not know the range before it ends, so it
// starts with 1-second buckets and moves up a ladder of widths (each a multiple of the one below,
// so merging is exact) whenever more than `maxBuckets` would be needed. At the end the widest
// bucket that still gives at most `target` buckets is picked for charts.
import { type Verdict, verdicts } from '../policy/verdict.js';

/** Bucket widths in seconds; every width divides the next one (1 s ... 28 d). */
export const bucketLadderSeconds = [
  1, 5, 10, 30, 60, 300, 600, 1800, 3600, 10_800, 21_600, 43_200, 86_400, 604_800, 2_419_200,
] as const;

export const seriesPaths = ['expressroute', 'internet', 'unknown'] as const;
export type SeriesPath = (typeof seriesPaths)[number];

/** Cell layout of one bucket: flows, then bytes per path, then bytes per verdict. */
const FLOWS = 0;
const PATH0 = 1;
const VERDICT0 = PATH0 + seriesPaths.length;
const CELLS = VERDICT0 + verdicts.length;

export interface SeriesBucket {
  /** Bucket start, epoch ms (UTC), aligned to a multiple of the width. */
  start: number;
  flows: number;
  bytesByPath: Record<SeriesPath, number>;
  bytesByVerdict: Record<Verdict, number>;
}

export interface SeriesResult {
  bucketMs: number;
  buckets: SeriesBucket[];
}

/** A TimeSeries as plain data: its ladder rung and its buckets (index at that width, cells). */
export interface SeriesSnapshot {
  rung: number;
  cells: [number, Float64Array][];
}

/** Buckets TimeSeries.add() finds without the map (a power of two). */
const RECENT = 256;

export class TimeSeries {
  readonly maxBuckets: number;
  #rung = 0;
  // Placeholders, set in the constructor: stored twice, V8 does not compile them into add() as
  // constants, so widening the buckets mid-audit does not throw the counter's optimized code away.
  #bucketMs = 0;
  #cells = new Map<number, Float64Array>();
  #min = Number.POSITIVE_INFINITY;
  #max = Number.NEGATIVE_INFINITY;
  // Recent buckets by index modulo RECENT (a direct-mapped cache in front of the map): flows start
  // at their end time minus their duration, so consecutive lines of a log in end-time order fall
  // into buckets up to minutes apart, and one remembered bucket would miss on most lines.
  #recentIndexes = new Float64Array(RECENT).fill(Number.NaN);
  readonly #recent: (Float64Array | undefined)[] = new Array(RECENT).fill(undefined);

  constructor(maxBuckets = 4096) {
    this.maxBuckets = maxBuckets;
    this.#bucketMs = ladderMs(0);
    this.#cells = new Map();
    this.bytesAdded = 0;
  }

  /** Adds one flow that started at `time` (epoch ms); `path` and `verdict` are indexes. */
  add(time: number, path: number, verdict: number, bytes: number): void {
    const index = Math.floor(time / this.#bucketMs);
    const place = index & (RECENT - 1);
    const target =
      this.#recentIndexes[place] === index ? (this.#recent[place] as Float64Array) : this.#cellsAt(time);
    (target[FLOWS] as number)++;
    (target[PATH0 + path] as number) += bytes;
    (target[VERDICT0 + verdict] as number) += bytes;
    this.bytesAdded += bytes;
  }

  /**
   * Adds `flows` flows of one path and verdict whose times fall into the bucket of `time` at the
   * current width (or a narrower ladder width: every width divides the wider ones), `bytes` their
   * sum: the same buckets as add() per flow, the widening included, since which width the series
   * needs depends only on the times' span. Equal sums too while they are whole numbers up to 2^53
   * (the caller's part: `bytesAdded`), where a sum does not depend on the order of its terms. The
   * WebAssembly scanner hands its flows over this way (src/audit/wasm-scan.ts).
   */
  addRun(time: number, path: number, verdict: number, flows: number, bytes: number): void {
    const target = this.#cellsAt(time);
    (target[FLOWS] as number) += flows;
    (target[PATH0 + path] as number) += bytes;
    (target[VERDICT0 + verdict] as number) += bytes;
    this.bytesAdded += bytes;
  }

  /** The bytes added so far (by add, addRun and merge; no bucket's sum is larger). */
  bytesAdded = 0.5; // a double from the start (set to 0 in the constructor)

  /** The bucket of `time`, made (and the width widened, if needed) when it has none yet. */
  #cellsAt(time: number): Float64Array {
    let index = Math.floor(time / this.#bucketMs);
    let cells = this.#cells.get(index);
    if (cells === undefined) {
      const min = Math.min(this.#min, index);
      const max = Math.max(this.#max, index);
      if (max - min + 1 > this.maxBuckets) {
        this.#coarsen(time);
        index = Math.floor(time / this.#bucketMs);
        cells = this.#cells.get(index);
      }
      if (cells === undefined) {
        cells = new Float64Array(CELLS);
        this.#cells.set(index, cells);
        if (index < this.#min) this.#min = index;
        if (index > this.#max) this.#max = index;
      }
    }
    const place = index & (RECENT - 1);
    this.#recentIndexes[place] = index;
    this.#recent[place] = cells;
    return cells;
  }

  /** Current internal bucket width in ms. */
  get bucketMs(): number {
    return this.#bucketMs;
  }

  /**
   * Dense buckets (empty ones included) from the first to the last flow, at the smallest ladder
   * width that gives at most `target` buckets.
   */
  result(target = 120): SeriesResult {
    if (this.#cells.size === 0) return { bucketMs: this.#bucketMs, buckets: [] };
    const firstMs = this.#min * this.#bucketMs;
    const lastMs = this.#max * this.#bucketMs;
    let widthMs = this.#bucketMs;
    let rung = this.#rung;
    while (Math.floor(lastMs / widthMs) - Math.floor(firstMs / widthMs) + 1 > target) {
      rung++;
      widthMs = ladderMs(rung);
    }
    const merged = new Map<number, Float64Array>();
    for (const [index, cells] of byIndex(this.#cells)) {
      const outer = Math.floor((index * this.#bucketMs) / widthMs);
      const into = merged.get(outer);
      if (into) for (let i = 0; i < CELLS; i++) (into[i] as number) += cells[i] as number;
      else merged.set(outer, Float64Array.from(cells));
    }
    const from = Math.floor(firstMs / widthMs);
    const to = Math.floor(lastMs / widthMs);
    const buckets: SeriesBucket[] = [];
    for (let index = from; index <= to; index++) {
      buckets.push(toBucket(index * widthMs, merged.get(index)));
    }
    return { bucketMs: widthMs, buckets };
  }

  /**
   * The buckets as plain data (for a worker thread to send its part of an audit), in the order of
   * their indexes: the same flows give the same snapshot whether or not the scanner made the
   * buckets (it makes them later than their lines).
   */
  snapshot(): SeriesSnapshot {
    return { rung: this.#rung, cells: byIndex(this.#cells) };
  }

  /**
   * Adds another series' buckets (same maxBuckets): both are brought to the wider width, then
   * widened further if the union spans too many buckets. The result is the series a single run over
   * both sets of flows would hold: widths depend only on the span of the times, and sums on nothing
   * but the flows.
   */
  merge(other: SeriesSnapshot): void {
    if (other.cells.length === 0) return;
    if (other.rung > this.#rung) this.#widen(other.rung);
    const otherMs = ladderMs(other.rung);
    for (const [index, values] of byIndex(other.cells)) {
      // The bucket's start stands for its flows: every width divides the wider ones.
      const target = this.#cellsAt(index * otherMs);
      for (let i = 0; i < CELLS; i++) (target[i] as number) += values[i] as number;
      for (let path = 0; path < seriesPaths.length; path++) this.bytesAdded += values[PATH0 + path] as number;
    }
  }

  /** Moves every bucket to ladder rung `rung` (wider). */
  #widen(rung: number): void {
    const widthMs = ladderMs(rung);
    const cells = new Map<number, Float64Array>();
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    for (const [index, values] of byIndex(this.#cells)) {
      const outer = Math.floor((index * this.#bucketMs) / widthMs);
      const into = cells.get(outer);
      if (into) for (let i = 0; i < CELLS; i++) (into[i] as number) += values[i] as number;
      else cells.set(outer, values);
      min = Math.min(min, outer);
      max = Math.max(max, outer);
    }
    this.#cells = cells;
    this.#min = min;
    this.#max = max;
    this.#rung = rung;
    this.#bucketMs = widthMs;
    this.#recentIndexes.fill(Number.NaN);
    this.#recent.fill(undefined);
  }

  #coarsen(time: number): void {
    const point = Math.floor(time / this.#bucketMs);
    const min = Math.min(this.#min, point) * this.#bucketMs;
    const max = Math.max(this.#max, point) * this.#bucketMs;
    let rung = this.#rung;
    let widthMs = this.#bucketMs;
    while (Math.floor(max / widthMs) - Math.floor(min / widthMs) + 1 > this.maxBuckets) {
      rung++;
      widthMs = ladderMs(rung);
    }
    this.#widen(rung);
  }
}

/**
 * Buckets in the order of their indexes (their times). Where buckets are summed into wider ones
 * (result(), #widen(), merge()), this order makes the sums the same however the buckets were made:
 * past 2^53 the order of the terms changes the rounding, and the WebAssembly scanner's runs make
 * buckets in another order than the lines.
 */
function byIndex(cells: Iterable<[number, Float64Array]>): [number, Float64Array][] {
  return [...cells].sort((a, b) => a[0] - b[0]);
}

/** Width of ladder rung `rung` in ms; past the ladder, widths keep doubling. */
function ladderMs(rung: number): number {
  const last = bucketLadderSeconds.length - 1;
  if (rung <= last) return (bucketLadderSeconds[rung] as number) * 1000;
  return (bucketLadderSeconds[last] as number) * 1000 * 2 ** (rung - last);
}

function toBucket(start: number, cells: Float64Array | undefined): SeriesBucket {
  const value = (i: number) => (cells ? (cells[i] as number) : 0);
  const bytesByPath = {} as Record<SeriesPath, number>;
  seriesPaths.forEach((path, i) => {
    bytesByPath[path] = value(PATH0 + i);
  });
  const bytesByVerdict = {} as Record<Verdict, number>;
  verdicts.forEach((verdict, i) => {
    bytesByVerdict[verdict] = value(VERDICT0 + i);
  });
  return { start, flows: value(FLOWS), bytesByPath, bytesByVerdict };
}
