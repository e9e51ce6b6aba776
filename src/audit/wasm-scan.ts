// The WebAssembly scanner of the audit's fast path (src/audit/wasm/scan.ts, AssemblyScript, built
// to dist/src/audit/scan.wasm by `npm run build`): the module compiled once per process (workers
// get it with their JobInit instead of compiling it again), and one instance per thread, reset for
// each Squid native or Zeek input (WasmScanner.acquire), driven by AuditCounter.squidLines() and
// AuditCounter.zeekLines(). docs/architecture.md, "Decisions": "The audit's Squid native lines and
// Zeek conn records are counted in WebAssembly".
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../catalog/builtin.js';
import { FILE_CHUNK_BYTES } from '../ingest/file-chunks.js';
import type { ZeekConnLayout } from '../ingest/flow-facts.js';
import { DEFAULT_MAX_LINE_BYTES } from '../ingest/line-reader.js';
import { parsePrefix } from '../match/ip.js';
import { privateRanges } from '../match/private-ranges.js';
import type { PathResolver } from '../policy/path-resolver.js';
import { copyBytes, namePoolBytes } from './key-table.js';

// The part of the WebAssembly JS API used here: the project's lib (ES2023, no DOM) declares none
// of it, though Node provides all of it.
declare global {
  namespace WebAssembly {
    class Module {
      constructor(bytes: Uint8Array);
    }
    class Instance {
      constructor(module: Module, imports: object);
      readonly exports: object;
    }
    class Memory {
      readonly buffer: ArrayBuffer;
    }
  }
}

interface ScanExports {
  memory: WebAssembly.Memory;
  setup(limit: number, poolBytes: number, capacity: number, maxLine: number): number;
  inputPointer(): number;
  inputBytes(): number;
  sumsPointer(): number;
  runsPointer(): number;
  runsRoom(): number;
  scratchPointer(): number;
  routesPointer(): number;
  routesRoom(): number;
  setRoutes(count: number): void;
  lines(): number;
  runs(): number;
  wasDeclined(): number;
  clearKeys(): void;
  reset(): void;
  learnName(length: number, number: number, row: number, path: number, verdict: number): void;
  learnUpstream(length: number, path: number): void;
  learnAddressPath(address: number, path: number): void;
  learnAddress(address: number, number: number, row: number, path: number, verdict: number): void;
  setZeek(
    separator: number,
    last: number,
    ts: number,
    resp: number,
    port: number,
    proto: number,
    duration: number,
    up: number,
    down: number,
    unsetLength: number,
  ): number;
  scan(from: number, length: number, leak: number, width: number, room: number, zeek: number): number;
  flushRuns(): number;
  pendingBytes(): number;
}

/** Bytes of a Squid chunk the scanner takes at once (FileChunks' chunks, and a joined line). */
const INPUT_BYTES = FILE_CHUNK_BYTES * 2;

/** Doubles per run the scanner hands over (scan.ts: flows, bucket index, bytes, time, first, last, path, verdict). */
export const RUN_DOUBLES = 8;

/** Set PATHWARDEN_WASM=0 to audit without the WebAssembly scanner (JavaScript only). */
export const WASM_ENV = 'PATHWARDEN_WASM';

let compiled: WebAssembly.Module | null | undefined;

/**
 * The scanner's compiled module, or null when it is switched off (PATHWARDEN_WASM=0) or cannot be
 * read or compiled (the audit then counts in JavaScript, with the same results).
 */
export function scanModule(): WebAssembly.Module | null {
  if (compiled === undefined) compiled = process.env[WASM_ENV] === '0' ? null : compileModule();
  return compiled;
}

/** Uses `module` as this thread's scanner module (a worker's, from its JobInit). */
export function useScanModule(module: WebAssembly.Module | null): void {
  compiled = module;
}

function compileModule(): WebAssembly.Module | null {
  for (const path of [
    fileURLToPath(new URL('./scan.wasm', import.meta.url)),
    join(packageRoot(), 'dist', 'src', 'audit', 'scan.wasm'),
  ]) {
    if (!existsSync(path)) continue;
    try {
      return new WebAssembly.Module(readFileSync(path));
    } catch {
      return null;
    }
  }
  return null;
}

/** IPv4 address ranges (first addresses, ascending from 0) and the actual path of each (a code). */
export interface RouteRanges {
  starts: Uint32Array;
  paths: Uint8Array;
}

const rangesByResolver = new WeakMap<PathResolver, RouteRanges>();

/**
 * The actual path of every IPv4 destination under `resolver`, as ranges: destinationPath4()
 * depends only on which of the topology's prefixes and the private ranges hold the address, so
 * it is the same from one of their first or past-last addresses to the next. Each range's path is
 * destinationPath4() of its first address; `code` turns it into the counter's path number.
 */
export function routeRanges(resolver: PathResolver, code: (path: string) => number): RouteRanges {
  let ranges = rangesByResolver.get(resolver);
  if (ranges !== undefined) return ranges;
  const topology = resolver.topology;
  const texts = [
    ...topology.expressroute.prefixes,
    ...topology.internet.prefixes,
    ...privateRanges.map((range) => range.prefix),
  ];
  const bounds = new Set<number>([0]);
  for (const text of texts) {
    const prefix = parsePrefix(text);
    if (typeof prefix === 'string') continue;
    // Its first 32 bits, whatever its version: the resolver's trie reads an IPv4 address's 4 bytes
    // against any prefix's first ones, so a bound too many costs a range, one too few a wrong path.
    const b = prefix.bytes;
    const first =
      (((b[0] as number) << 24) | ((b[1] as number) << 16) | ((b[2] as number) << 8) | (b[3] as number)) >>>
      0;
    const length = Math.min(prefix.length, 32);
    const size = 2 ** (32 - length);
    const start = Math.floor(first / size) * size;
    bounds.add(start);
    if (start + size < 2 ** 32) bounds.add(start + size);
  }
  const starts = Uint32Array.from([...bounds].sort((a, b) => a - b));
  const paths = new Uint8Array(starts.length);
  for (let i = 0; i < starts.length; i++)
    paths[i] = code(resolver.destinationPath4((starts[i] as number) | 0));
  ranges = { starts, paths };
  rangesByResolver.set(resolver, ranges);
  return ranges;
}

/** Scanners no counter holds, on this thread (WasmScanner.acquire). */
const idle: WasmScanner[] = [];

/**
 * Idle scanners kept per thread at most (each lays out about 21 MiB of linear memory for 131,072
 * keys; pages become resident as keys come).
 */
const IDLE_KEPT = 2;

/** One instance of the scanner, sized for `limit` keys (AuditCounter's key limit). */
export class WasmScanner {
  readonly #exports: ScanExports;
  readonly #module: WebAssembly.Module;
  readonly #limit: number;
  readonly #input: Uint8Array;
  readonly #scratch: Uint8Array;
  /** The counter's per-row sums (5 doubles a row), shared with the scanner. */
  readonly sums: Float64Array<ArrayBuffer>;
  /** The runs the last scan() left (RUN_DOUBLES each). */
  readonly runs: Float64Array<ArrayBuffer>;
  /** Lines the last scan() counted or skipped, runs it left, and whether it stopped at a line it declined. */
  lines = 0;
  runCount = 0;
  declined = false;

  private constructor(exports: ScanExports, module: WebAssembly.Module, limit: number) {
    this.#exports = exports;
    this.#module = module;
    this.#limit = limit;
    const buffer = exports.memory.buffer;
    this.#input = new Uint8Array(buffer, exports.inputPointer(), exports.inputBytes());
    this.#scratch = new Uint8Array(buffer, exports.scratchPointer(), 4096);
    this.sums = new Float64Array(buffer, exports.sumsPointer(), limit * 5);
    this.runs = new Float64Array(buffer, exports.runsPointer(), exports.runsRoom() * RUN_DOUBLES);
  }

  /** A scanner from `module`, or null when it cannot be made (the caller counts in JavaScript). */
  static create(module: WebAssembly.Module, limit: number): WasmScanner | null {
    try {
      const exports = new WebAssembly.Instance(module, {}).exports as unknown as ScanExports;
      if (exports.setup(limit, namePoolBytes(limit), INPUT_BYTES, DEFAULT_MAX_LINE_BYTES) !== 0) return null;
      return new WasmScanner(exports, module, limit);
    } catch {
      return null;
    }
  }

  /**
   * A scanner from `module` for `limit` keys: one this thread made before and was given back
   * (release()), reset for a new input, else a new one (create()). An audit of many small inputs
   * thus makes one instance per thread, not one per input.
   */
  static acquire(module: WebAssembly.Module, limit: number): WasmScanner | null {
    const at = idle.findIndex((scanner) => scanner.#module === module && scanner.#limit === limit);
    if (at < 0) return WasmScanner.create(module, limit);
    const scanner = idle.splice(at, 1)[0] as WasmScanner;
    scanner.#exports.reset();
    scanner.lines = 0;
    scanner.runCount = 0;
    scanner.declined = false;
    return scanner;
  }

  /** Gives this scanner back for acquire() (its holder no longer uses it or its sums). */
  release(): void {
    if (idle.includes(this)) return;
    idle.push(this);
    if (idle.length > IDLE_KEPT) idle.shift();
  }

  /** Copies a chunk in; false when it is too large (its lines then go to JavaScript). */
  load(bytes: Uint8Array): boolean {
    if (bytes.length > this.#input.length) return false;
    this.#input.set(bytes);
    return true;
  }

  /**
   * Counts the loaded chunk's lines (`length` bytes) from `from` (scan.ts: scan()), as Zeek conn
   * records when `zeek` (the layout of setZeek()) else as Squid native lines; returns the offset
   * it stopped at and sets `lines`, `runCount` and `declined`.
   */
  scan(
    from: number,
    length: number,
    leakFull: boolean,
    bucketMs: number,
    room: number,
    zeek: boolean,
  ): number {
    const exports = this.#exports;
    const stop = exports.scan(from, length, leakFull ? 1 : 0, bucketMs, room, zeek ? 1 : 0);
    this.lines = exports.lines();
    this.runCount = exports.runs();
    this.declined = exports.wasDeclined() === 1;
    return stop;
  }

  /** Hands the open runs over (sets `runCount`; the runs are at `runs`). */
  flushRuns(): void {
    this.runCount = this.#exports.flushRuns();
  }

  /** Bytes of the runs still open. */
  get pendingBytes(): number {
    return this.#exports.pendingBytes();
  }

  /** Tells the scanner a learned name key (FlowKeyTable's: `number` is its port and path). */
  learnName(
    b: Uint8Array,
    start: number,
    end: number,
    number: number,
    row: number,
    path: number,
    verdict: number,
  ): void {
    if (end - start > this.#scratch.length) return;
    copyBytes(b, start, end, this.#scratch, 0);
    this.#exports.learnName(end - start, number, row, path, verdict);
  }

  /** Tells the scanner the actual path of an upstream proxy. */
  learnUpstream(b: Uint8Array, start: number, end: number, path: number): void {
    if (end - start > this.#scratch.length) return;
    copyBytes(b, start, end, this.#scratch, 0);
    this.#exports.learnUpstream(end - start, path);
  }

  /** Tells the scanner the actual path of an IPv4 destination (its int32 bits). */
  learnAddressPath(address: number, path: number): void {
    this.#exports.learnAddressPath(address, path);
  }

  /** Tells the scanner a learned address key (FlowKeyTable's: `number` is its port and kind). */
  learnAddress(address: number, number: number, row: number, path: number, verdict: number): void {
    this.#exports.learnAddress(address, number, row, path, verdict);
  }

  /** Tells the scanner the Zeek conn section its next scan() reads; false when it cannot read it. */
  setZeek(layout: ZeekConnLayout): boolean {
    const unset = layout.unset;
    if (unset.length > this.#scratch.length) return false;
    this.#scratch.set(unset);
    const c = layout.columns;
    return (
      this.#exports.setZeek(
        layout.separator,
        c[0] as number,
        c[1] as number,
        c[2] as number,
        c[3] as number,
        c[4] as number,
        c[5] as number,
        c[6] as number,
        c[7] as number,
        unset.length,
      ) === 0
    );
  }

  /**
   * Gives the scanner the actual path of every IPv4 destination as ranges (routeRanges()); false
   * when there are too many (it then asks for each address: learnAddressPath()).
   */
  setRoutes(ranges: RouteRanges): boolean {
    const exports = this.#exports;
    const room = exports.routesRoom();
    const count = ranges.starts.length;
    if (count > room) return false;
    const buffer = exports.memory.buffer;
    new Uint32Array(buffer, exports.routesPointer(), count).set(ranges.starts);
    new Uint8Array(buffer, exports.routesPointer() + room * 4, count).set(ranges.paths);
    exports.setRoutes(count);
    return true;
  }

  /** Forgets the keys and upstreams (the counter started over). */
  clearKeys(): void {
    this.#exports.clearKeys();
  }
}
