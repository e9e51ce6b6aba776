// AuditCounter: the FlowCounter (src/ingest/flow-facts.ts) of an audit without per-flow sinks. The
// first flow of each key (the name or destination text, the port and the actual path) goes the
// general way, classifyFlow() then AuditAggregate.add(), and the counter remembers the slot it was
// counted in; every later flow with that key is counted in that slot from its numbers alone, with
// no FlowRecord, string or Decision. Results are the same as the general way's because the key
// holds everything the decision and the slot depend on for these flows: no DNS answers in the
// audit (else nothing is counted here), no component or source address, a name that decides by
// itself (or no name and an IPv4 destination), and the actual path computed as classifyFlow
// computes it. Leaks go the general way while their evidence is still recorded.
import {
  actualPathOf,
  type ClassifyCache,
  type ClassifyOptions,
  classifyFlow,
  decidedByFirstName,
} from '../flow/classify.js';
import type { FlowRecord } from '../flow/record.js';
import type { DnsAnswers } from '../ingest/dns-answers.js';
import { type FlowCounter, type FlowFacts, fnv1a, type ZeekConnLayout } from '../ingest/flow-facts.js';
import type { PathResolver } from '../policy/path-resolver.js';
import type { Policy } from '../policy/policy.js';
import { verdicts } from '../policy/verdict.js';
import type { AuditAggregate, Cell, CountSlot } from './aggregate.js';
import { copyBytes, FlowKeyTable, namePoolBytes } from './key-table.js';
import { seriesPaths } from './time-series.js';
import { RUN_DOUBLES, routeRanges, WasmScanner } from './wasm-scan.js';

const LEAK = verdicts.indexOf('leak');

/** Doubles per learned key in AuditCounter's sums: flows, bytes up, bytes down, first, last. */
const ROW = 5;

/** Rows AuditCounter's arrays start with (they double as keys are learned). */
const FIRST_ROWS = 256;

export interface AuditCounterOptions {
  aggregate: AuditAggregate;
  policy: Policy;
  resolver: PathResolver;
  /** The audit's classification options (with its cache). */
  classify: ClassifyOptions & { cache: ClassifyCache };
  dns: DnsAnswers;
  /**
   * Keys, names and upstreams remembered before the counter starts over (default KEY_LIMIT,
   * 131,072), and names in pools of namePoolBytes(limit) (key-table.ts).
   */
  keyLimit?: number;
  /**
   * The WebAssembly scanner's module (wasm-scan.ts), for an input read by the Squid native or the
   * Zeek reader: squidLines() and zeekLines() then count the lines they can in WebAssembly.
   * Without it, JavaScript only.
   */
  scanModule?: WebAssembly.Module | null;
}

/**
 * Keys the counter learns before it starts over. An enterprise day of proxy logs has about 100,000
 * destinations (the aggregate's default limit), most of them on one or two ports: with 32,768
 * keys, as before, an audit of such a log started over 8 times and took 279,104 first flows the
 * general way (each a FlowRecord, a classification and garbage) instead of ~110,000, for 40 % more
 * CPU and no less memory (docs/performance.md, "Audit memory with many destinations", session 10).
 * The tables start small and double as keys come, so a log with few keys pays nothing for it.
 */
export const KEY_LIMIT = 1 << 17;

/** Largest whole number a double holds exactly, plus one (TimeSeries.addRun). */
const EXACT = 2 ** 53;

export class AuditCounter implements FlowCounter {
  taken = 0;
  readonly #options: AuditCounterOptions;
  /** Upstream proxies, with the actual path each gives (-1: not known yet). */
  readonly #upstreams: ByteInterner;
  #upstreamPaths: number[] = [];
  /** The last upstream seen: most lines name the same one or two proxies. */
  #lastUpstream = -1;
  /** The actual path of `#lastUpstream`. */
  #lastUpstreamPath = -1;
  /** Learned keys (a name or an address, with the port and path) to their rows (below). */
  readonly #keys: FlowKeyTable;
  // Per row (learned key): the slot its first flow was counted in (its cell and the aggregate's
  // row; not the slot object, ~64 bytes per key kept alive: docs/performance.md, "Audit memory
  // with many destinations"), its path and verdict, and the sums of the flows counted since the
  // last flush(), added to the slot then. Each counted flow touches this one row instead of the
  // slot's cell and destination tally.
  #cells: Cell[] = [];
  #rows = new Int32Array(0);
  // Placeholders, replaced in the constructor: stored twice, V8 does not compile them into count()
  // as constants, so #learn() growing them does not throw count()'s optimized code away.
  #paths = new Uint8Array(0);
  #verdicts = new Uint8Array(0);
  #sums = new Float64Array(0);
  /** The key of the flow count() just declined, learned when take() gets that flow. */
  #pendingLine = -1;
  /** The pending key: a name (held in the key table's pool) or an address, and its number. */
  #pendingAddress = 0;
  #pendingLength = 0;
  #pendingHash = 0;
  #pendingNumber = 0;
  #pendingPath = -1;
  #pendingByName = false;
  /** The pending name's bytes (the line's chunk, valid until take() gets its flow). */
  #pendingBytes: Uint8Array | null = null;
  #pendingStart = 0;
  /** The WebAssembly scanner (null: none), and whether it holds the chunk being read. */
  #scanner: WasmScanner | null = null;
  #loaded = false;
  /** Lines the last squidLines() or zeekLines() call read. */
  linesRead = 0;
  /** True when squidLines() and zeekLines() read lines (the scanner could be made). */
  readonly scansLines: boolean;

  constructor(options: AuditCounterOptions) {
    this.#options = options;
    this.#paths = new Uint8Array(FIRST_ROWS);
    this.#verdicts = new Uint8Array(FIRST_ROWS);
    this.#rows = new Int32Array(FIRST_ROWS);
    const limit = options.keyLimit ?? KEY_LIMIT;
    const module = options.scanModule;
    // None when DNS answers are known (count() declines every flow: the scanner could not count
    // one); else this thread's, given back by release().
    this.#scanner = module && options.dns.empty ? WasmScanner.acquire(module, limit) : null;
    this.scansLines = this.#scanner !== null;
    this.#scanner?.setRoutes(
      routeRanges(options.resolver, (path) => pathCodes[path as keyof typeof pathCodes]),
    );
    // With the scanner, the sums of every row it can have live in its memory, where it adds too.
    this.#sums = this.#scanner?.sums ?? new Float64Array(FIRST_ROWS * ROW);
    this.#upstreams = new ByteInterner(limit);
    this.#keys = new FlowKeyTable(limit, namePoolBytes(limit));
  }

  count(facts: FlowFacts): boolean {
    this.#pendingLine = -1;
    if (!this.#options.dns.empty) return false; // names of addresses may decide
    const b = facts.bytes;
    let row: number;
    let path = -1;
    const byName = facts.nameStart >= 0;
    const port = facts.port;
    if (byName) {
      if (facts.upstreamStart >= 0) {
        // Most lines name the proxy the line before named: compared here, without a call.
        const last = this.#lastUpstream;
        path =
          last >= 0 && this.#upstreams.is(last, b, facts.upstreamStart, facts.upstreamEnd)
            ? this.#lastUpstreamPath
            : this.#upstreamPath(b, facts.upstreamStart, facts.upstreamEnd);
      } else if (facts.destination4 >= 0) {
        path = this.#addressPath(facts.destination4);
        this.#scanner?.learnAddressPath(facts.destination4 | 0, path);
      } else return false;
      if (path < 0) {
        if (this.#upstreams.full) this.#forget();
        return false;
      }
      // One probe: the name's bytes, the port and the path.
      const number = nameKey(port, path);
      row = this.#keys.findName(b, facts.nameStart, facts.nameEnd, facts.nameHash, number);
      if (row < 0) {
        if (this.#keys.full) {
          this.#forget();
          return false;
        }
        if (!this.#keys.holdName(b, facts.nameStart, facts.nameEnd)) return false;
        this.#pendingBytes = b;
        this.#pendingStart = facts.nameStart;
        this.#pendingLength = facts.nameEnd - facts.nameStart;
        this.#pendingHash = facts.nameHash;
        this.#pendingNumber = number;
        this.#pendingPath = path;
        this.#pendingByName = true;
        this.#pendingLine = facts.line;
        return false;
      }
    } else {
      // Decided by the destination address alone, whose value (canonical dotted quad) is the key;
      // its actual path is learned with it.
      if (facts.destination4 < 0 || facts.upstreamStart >= 0) return false;
      const address = facts.destination4 | 0;
      const number = addressKey(port);
      row = this.#keys.findAddress(address, number);
      if (row < 0) {
        if (this.#keys.full) {
          this.#forget();
          return false;
        }
        this.#pendingAddress = address;
        this.#pendingNumber = number;
        this.#pendingPath = this.#addressPath(facts.destination4);
        this.#pendingByName = false;
        this.#pendingLine = facts.line;
        return false;
      }
    }
    const verdict = this.#verdicts[row] as number;
    const aggregate = this.#options.aggregate;
    if (verdict === LEAK && !aggregate.leakEvidenceFull) return false;
    const up = Math.max(facts.bytesUp, 0);
    const down = Math.max(facts.bytesDown, 0);
    const start = facts.start;
    const end = facts.end;
    this.#beforeAdd(up + down);
    const first = Number.isNaN(start) ? (Number.isNaN(end) ? Number.POSITIVE_INFINITY : end) : start;
    const last = Number.isNaN(end) ? (Number.isNaN(start) ? Number.NEGATIVE_INFINITY : start) : end;
    aggregate.countTime(
      this.#paths[row] as number,
      verdict,
      up + down,
      Number.isNaN(start) ? end : start,
      first,
      last,
    );
    const sums = this.#sums;
    const at = row * ROW;
    (sums[at] as number)++;
    (sums[at + 1] as number) += up;
    (sums[at + 2] as number) += down;
    if (first < (sums[at + 3] as number)) sums[at + 3] = first;
    if (last > (sums[at + 4] as number)) sums[at + 4] = last;
    this.taken++;
    return true;
  }

  take(flow: FlowRecord): void {
    const options = this.#options;
    this.#beforeAdd(Math.abs(flow.bytesUp ?? 0) + Math.abs(flow.bytesDown ?? 0));
    const decision = classifyFlow(flow, options.policy, options.resolver, options.classify);
    const slot = options.aggregate.add(flow, decision);
    this.taken++;
    if (this.#pendingLine < 0 || flow.origin.line !== this.#pendingLine) return;
    this.#pendingLine = -1;
    // Learned only when the key decided the flow: its name, or (no name) its destination address.
    if (this.#pendingByName ? !decidedByFirstName(flow) : flow.host !== null) return;
    if (slot.path !== this.#pendingPath || flow.component !== null) return;
    this.#learn(slot);
  }

  /**
   * Adds the flows summed per key to their slots. The aggregate's counts are complete only after
   * this: call it when the input is read (and before anything reads the cells or destinations).
   */
  flush(): void {
    const aggregate = this.#options.aggregate;
    if (this.#scanner !== null) {
      this.#scanner.flushRuns();
      this.#addRuns(this.#scanner);
    }
    const sums = this.#sums;
    const verdicts = this.#verdicts;
    const rows = this.#rows;
    for (let row = 0; row < this.#cells.length; row++) {
      const at = row * ROW;
      const flows = sums[at] as number;
      if (flows === 0) continue;
      aggregate.addToCell(
        verdicts[row] as number,
        this.#cells[row] as Cell,
        rows[row] as number,
        flows,
        sums[at + 1] as number,
        sums[at + 2] as number,
        sums[at + 3] as number,
        sums[at + 4] as number,
      );
      emptyRow(sums, at);
    }
  }

  /**
   * Flushes, then gives the scanner back for the next input's counter (WasmScanner.release):
   * call it when the input is read; the counter counts nothing after it.
   */
  release(): void {
    this.flush();
    const scanner = this.#scanner;
    if (scanner === null) return;
    this.#scanner = null;
    this.#loaded = false;
    this.#cells = [];
    this.#sums = new Float64Array(0);
    scanner.release();
  }

  #learn(slot: CountSlot): void {
    const row = this.#cells.length;
    if (row * ROW >= this.#sums.length) {
      // (never with the scanner: its sums have room for every row up to the key limit)
      const sums = new Float64Array(this.#sums.length * 2);
      sums.set(this.#sums);
      this.#sums = sums;
    }
    if (row >= this.#paths.length) {
      const paths = new Uint8Array(this.#paths.length * 2);
      paths.set(this.#paths);
      this.#paths = paths;
      const verdicts = new Uint8Array(this.#verdicts.length * 2);
      verdicts.set(this.#verdicts);
      this.#verdicts = verdicts;
      const rows = new Int32Array(this.#rows.length * 2);
      rows.set(this.#rows);
      this.#rows = rows;
    }
    this.#cells.push(slot.cell);
    this.#rows[row] = slot.row;
    this.#paths[row] = slot.path;
    this.#verdicts[row] = slot.verdict;
    emptyRow(this.#sums, row * ROW);
    if (this.#pendingByName) {
      this.#keys.addPending(this.#pendingLength, this.#pendingHash, this.#pendingNumber, row);
      const start = this.#pendingStart;
      this.#scanner?.learnName(
        this.#pendingBytes as Uint8Array,
        start,
        start + this.#pendingLength,
        this.#pendingNumber,
        row,
        slot.path,
        slot.verdict,
      );
    } else {
      this.#keys.addAddress(this.#pendingAddress, this.#pendingNumber, row);
      this.#scanner?.learnAddress(this.#pendingAddress, this.#pendingNumber, row, slot.path, slot.verdict);
    }
    this.#pendingBytes = null;
  }

  /**
   * Counts the Squid native lines of `bytes` from `position` that the WebAssembly scanner can
   * (`fresh`: the first call for this chunk, which copies it in), and returns the offset of the
   * first line it leaves to the caller (the chunk's length when none); `linesRead` says how many
   * lines it read. The caller reads that line as without a scanner (parseNativeFast, count(),
   * take()), which teaches the scanner what it learns, and calls again after it. Without a
   * scanner, or with DNS answers (count() declines every flow then), it reads nothing.
   */
  squidLines(bytes: Buffer, position: number, fresh: boolean): number {
    return this.#scanLines(bytes, position, fresh, false);
  }

  /**
   * As squidLines(), for the Zeek conn records of a TSV section laid out as `layout`
   * (ZeekTsvReader): the caller reads the line it stops at (headers too) as without a scanner.
   */
  zeekLines(bytes: Buffer, position: number, fresh: boolean, layout: ZeekConnLayout): number {
    this.linesRead = 0;
    const scanner = this.#scanner;
    if (scanner === null) return position;
    if (!scanner.setZeek(layout)) {
      // Copied in all the same: a later section of this chunk may have a layout it reads.
      if (fresh) this.#loaded = scanner.load(bytes);
      return position;
    }
    return this.#scanLines(bytes, position, fresh, true);
  }

  #scanLines(bytes: Buffer, position: number, fresh: boolean, zeek: boolean): number {
    this.linesRead = 0;
    const scanner = this.#scanner;
    if (scanner === null || !this.#options.dns.empty) return position;
    if (fresh) this.#loaded = scanner.load(bytes);
    if (!this.#loaded) return position;
    const aggregate = this.#options.aggregate;
    const series = aggregate.series;
    const length = bytes.length;
    let at = position;
    for (;;) {
      at = scanner.scan(
        at,
        length,
        aggregate.leakEvidenceFull,
        series.bucketMs,
        EXACT - series.bytesAdded,
        zeek,
      );
      this.linesRead += scanner.lines;
      this.#addRuns(scanner);
      if (scanner.declined || at >= length) return at;
    }
  }

  /** Adds the runs the scanner handed over to the aggregate (countRun). */
  #addRuns(scanner: WasmScanner): void {
    const aggregate = this.#options.aggregate;
    const runs = scanner.runs;
    for (let r = 0; r < scanner.runCount; r++) {
      const k = r * RUN_DOUBLES;
      const flows = runs[k] as number;
      aggregate.countRun(
        runs[k + 6] as number,
        runs[k + 7] as number,
        flows,
        runs[k + 2] as number,
        runs[k + 3] as number,
        runs[k + 4] as number,
        runs[k + 5] as number,
      );
      this.taken += flows;
    }
    scanner.runCount = 0;
  }

  /**
   * Before this counter adds a flow of `bytes` bytes itself: the scanner's open runs are added
   * first when the series could pass 2^53 with it (TimeSeries.addRun: the runs' flows must reach
   * the series while its sums are exact, since they reach it in another order than the lines').
   */
  #beforeAdd(bytes: number): void {
    const scanner = this.#scanner;
    if (scanner === null) return;
    const pending = scanner.pendingBytes;
    if (pending > 0 && !(this.#options.aggregate.series.bytesAdded + pending + bytes <= EXACT)) {
      scanner.flushRuns();
      this.#addRuns(scanner);
    }
  }

  #upstreamPath(b: Buffer, start: number, end: number): number {
    const upstreams = this.#upstreams;
    const id = upstreams.id(b, start, end);
    if (id < 0) return -1;
    let path = this.#upstreamPaths[id];
    if (path === undefined) {
      const result = actualPathOf(
        { upstream: upstreams.text(id), sourceAddress: null, destination: null },
        this.#options.resolver,
        this.#options.classify.cache,
      );
      path = pathCodes[result.path];
      this.#upstreamPaths[id] = path;
      this.#scanner?.learnUpstream(b, start, end, path);
    }
    this.#lastUpstream = id;
    this.#lastUpstreamPath = path;
    return path;
  }

  #addressPath(value: number): number {
    // As an int32 (writeIPv4 reads either form): a value above 2^31 passed to a call that is not
    // inlined is boxed, one heap number per direct line.
    return pathCodes[this.#options.resolver.destinationPath4(value | 0)];
  }

  /** Starts over when a table is full (the sums go to their slots first; only the memo goes). */
  #forget(): void {
    this.flush();
    this.#upstreams.clear();
    this.#upstreamPaths = [];
    this.#lastUpstream = -1;
    this.#keys.clear();
    this.#scanner?.clearKeys();
    this.#cells = [];
    this.#pendingLine = -1;
  }
}

function emptyRow(sums: Float64Array, at: number): void {
  sums[at] = 0;
  sums[at + 1] = 0;
  sums[at + 2] = 0;
  sums[at + 3] = Number.POSITIVE_INFINITY;
  sums[at + 4] = Number.NEGATIVE_INFINITY;
}

// A key is two int32s: the name's id or the address's value, and the port and path packed with a
// bit that tells the two kinds apart (an address key needs no path: it follows from the address).
const ADDRESS_KEY = 1 << 20;
const nameKey = (port: number, path: number): number => (port + 1) | (path << 17);
const addressKey = (port: number): number => (port + 1) | ADDRESS_KEY;

/** Actual paths as indexes of `seriesPaths` (as CountSlot.path). */
const pathCodes = Object.fromEntries(seriesPaths.map((path, index) => [path, index])) as Record<
  (typeof seriesPaths)[number],
  number
>;

/** Places an interner starts with (it doubles when half full). */
const FIRST_PLACES = 64;

/**
 * Byte strings to small ids (0, 1, ...), by FNV-1a hash and open addressing, without making a
 * string per lookup (the counter's upstream proxies: a log names a few). Holds at most `limit`
 * strings and `poolBytes` bytes of them; its arrays start small and double as strings come.
 * `id()` returns -1 (and `full` is set) when a new string does not fit.
 */
class ByteInterner {
  #mask = FIRST_PLACES - 1;
  #slots = new Int32Array(FIRST_PLACES);
  #hashes = new Int32Array(FIRST_PLACES);
  #starts = new Int32Array(FIRST_PLACES);
  #lengths = new Int32Array(FIRST_PLACES);
  #pool = new Uint8Array(FIRST_PLACES * 32);
  #used = 0;
  count = 0;
  full = false;
  readonly #texts: (string | undefined)[] = [];

  constructor(
    readonly limit = 1 << 15,
    readonly poolBytes = 1 << 21,
  ) {}

  /** The id of `b[start, end)`, whose fnv1a() is `hash` when the caller has it already. */
  id(b: Uint8Array, start: number, end: number, hash = fnv1a(b, start, end)): number {
    const length = end - start;
    const mask = this.#mask;
    let slot = hash & mask;
    for (;;) {
      const stored = this.#slots[slot] as number;
      if (stored === 0) break;
      const id = stored - 1;
      if (this.is(id, b, start, end)) return id;
      slot = (slot + 1) & mask;
    }
    if (this.count >= this.limit || this.#used + length > this.poolBytes) {
      this.full = true;
      return -1;
    }
    const id = this.count++;
    if (this.#used + length > this.#pool.length) {
      let size = this.#pool.length * 2;
      while (size < this.#used + length) size *= 2;
      this.#pool = copied(this.#pool, new Uint8Array(size), this.#used);
    }
    if (id >= this.#starts.length) {
      const size = this.#starts.length * 2;
      this.#hashes = copied(this.#hashes, new Int32Array(size), id);
      this.#starts = copied(this.#starts, new Int32Array(size), id);
      this.#lengths = copied(this.#lengths, new Int32Array(size), id);
    }
    copyBytes(b, start, end, this.#pool, this.#used);
    this.#starts[id] = this.#used;
    this.#lengths[id] = length;
    this.#hashes[id] = hash;
    this.#used += length;
    if (this.count * 2 > mask + 1) this.#grow();
    else this.#slots[slot] = id + 1;
    return id;
  }

  /** Doubles the places (at most half full) and puts every id back, the new one included. */
  #grow(): void {
    const places = (this.#mask + 1) * 2;
    const slots = new Int32Array(places);
    const mask = places - 1;
    for (let id = 0; id < this.count; id++) {
      let slot = (this.#hashes[id] as number) & mask;
      while (slots[slot] !== 0) slot = (slot + 1) & mask;
      slots[slot] = id + 1;
    }
    this.#slots = slots;
    this.#mask = mask;
  }

  /** True when `b[start, end)` holds the bytes of `id`. */
  is(id: number, b: Uint8Array, start: number, end: number): boolean {
    const length = end - start;
    if (this.#lengths[id] !== length) return false;
    const pool = this.#pool;
    const at = this.#starts[id] as number;
    for (let i = 0; i < length; i++) if (pool[at + i] !== b[start + i]) return false;
    return true;
  }

  /** The string of an id, as latin1 (one char per byte, as the parsers slice their chunk text). */
  text(id: number): string {
    let text = this.#texts[id];
    if (text === undefined) {
      const at = this.#starts[id] as number;
      text = Buffer.from(this.#pool.buffer, this.#pool.byteOffset + at, this.#lengths[id]).toString('latin1');
      this.#texts[id] = text;
    }
    return text;
  }

  clear(): void {
    this.#slots = new Int32Array(FIRST_PLACES);
    this.#mask = FIRST_PLACES - 1;
    this.#used = 0;
    this.count = 0;
    this.full = false;
    this.#texts.length = 0;
  }
}

/** `to` with the first `length` items of `from` copied in. */
function copied<T extends Uint8Array | Int32Array>(from: T, to: T, length: number): T {
  to.set(from.subarray(0, length));
  return to;
}
