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
import type { FlowCounter, FlowFacts } from '../ingest/flow-facts.js';
import type { PathResolver } from '../policy/path-resolver.js';
import type { Policy } from '../policy/policy.js';
import { verdicts } from '../policy/verdict.js';
import type { AuditAggregate, CountSlot } from './aggregate.js';
import { seriesPaths } from './time-series.js';

const LEAK = verdicts.indexOf('leak');

/** A learned key's slot: the flows of one (text, port, actual path). */
interface Entry {
  port: number;
  path: number;
  slot: CountSlot;
}

export interface AuditCounterOptions {
  aggregate: AuditAggregate;
  policy: Policy;
  resolver: PathResolver;
  /** The audit's classification options (with its cache). */
  classify: ClassifyOptions & { cache: ClassifyCache };
  dns: DnsAnswers;
}

export class AuditCounter implements FlowCounter {
  taken = 0;
  readonly #options: AuditCounterOptions;
  /** Names (or destination addresses) of keys. */
  readonly #texts = new ByteInterner();
  /** Upstream proxies, with the actual path each gives (-1: not known yet). */
  readonly #upstreams = new ByteInterner();
  #upstreamPaths: number[] = [];
  /** Actual paths of destination addresses (by their id in #texts). */
  #addressPaths: number[] = [];
  #entries: (Entry[] | undefined)[] = [];
  /** The key of the flow count() just declined, learned when take() gets that flow. */
  #pendingLine = -1;
  #pendingId = -1;
  #pendingPort = -1;
  #pendingPath = -1;
  #pendingByName = false;

  constructor(options: AuditCounterOptions) {
    this.#options = options;
  }

  count(facts: FlowFacts): boolean {
    this.#pendingLine = -1;
    if (this.#options.dns.size !== 0) return false; // names of addresses may decide
    const b = facts.bytes;
    let id: number;
    let path: number;
    const byName = facts.nameStart >= 0;
    if (byName) {
      if (facts.upstreamStart >= 0) path = this.#upstreamPath(b, facts.upstreamStart, facts.upstreamEnd);
      else if (facts.destination4 >= 0) path = this.#addressPath(facts.destination4);
      else return false;
      id = path < 0 ? -1 : this.#texts.id(b, facts.nameStart, facts.nameEnd);
    } else {
      // Decided by the destination address alone: its actual path is remembered with its id.
      if (facts.destination4 < 0 || facts.upstreamStart >= 0) return false;
      id = this.#texts.id(b, facts.destinationStart, facts.destinationEnd);
      path = id < 0 ? -1 : (this.#addressPaths[id] ?? -1);
      if (path < 0 && id >= 0) {
        path = this.#addressPath(facts.destination4);
        this.#addressPaths[id] = path;
      }
    }
    if (id < 0) {
      if (this.#texts.full || this.#upstreams.full) this.#forget();
      return false;
    }
    const port = facts.port;
    const entries = this.#entries[id];
    let slot: CountSlot | undefined;
    if (entries !== undefined) {
      for (let i = 0; i < entries.length; i++) {
        const entry = entries[i] as Entry;
        if (entry.port === port && entry.path === path) {
          slot = entry.slot;
          break;
        }
      }
    }
    const aggregate = this.#options.aggregate;
    if (slot === undefined) {
      this.#pendingLine = facts.line;
      this.#pendingId = id;
      this.#pendingPort = port;
      this.#pendingPath = path;
      this.#pendingByName = byName;
      return false;
    }
    if (slot.verdict === LEAK && !aggregate.leakEvidenceFull) return false;
    aggregate.count(
      slot,
      Math.max(facts.bytesUp, 0),
      Math.max(facts.bytesDown, 0),
      Number.isNaN(facts.start) ? null : facts.start,
      Number.isNaN(facts.end) ? null : facts.end,
    );
    this.taken++;
    return true;
  }

  take(flow: FlowRecord): void {
    const options = this.#options;
    const decision = classifyFlow(flow, options.policy, options.resolver, options.classify);
    const slot = options.aggregate.add(flow, decision);
    this.taken++;
    if (this.#pendingLine < 0 || flow.origin.line !== this.#pendingLine) return;
    this.#pendingLine = -1;
    // Learned only when the key decided the flow: its name, or (no name) its destination address.
    if (this.#pendingByName ? !decidedByFirstName(flow) : flow.host !== null) return;
    if (slot.path !== this.#pendingPath || flow.component !== null) return;
    let entries = this.#entries[this.#pendingId];
    if (entries === undefined) {
      entries = [];
      this.#entries[this.#pendingId] = entries;
    }
    entries.push({ port: this.#pendingPort, path: this.#pendingPath, slot });
  }

  #upstreamPath(b: Buffer, start: number, end: number): number {
    const id = this.#upstreams.id(b, start, end);
    if (id < 0) return -1;
    let path = this.#upstreamPaths[id];
    if (path === undefined) {
      const result = actualPathOf(
        { upstream: this.#upstreams.text(id), sourceAddress: null, destination: null },
        this.#options.resolver,
        this.#options.classify.cache,
      );
      path = pathCodes[result.path];
      this.#upstreamPaths[id] = path;
    }
    return path;
  }

  #addressPath(value: number): number {
    return pathCodes[this.#options.resolver.destinationPath4(value)];
  }

  /** Starts over when a table is full (the slots stay in the aggregate; only the memo goes). */
  #forget(): void {
    this.#texts.clear();
    this.#upstreams.clear();
    this.#upstreamPaths = [];
    this.#addressPaths = [];
    this.#entries = [];
    this.#pendingLine = -1;
  }
}

/** Actual paths as indexes of `seriesPaths` (as CountSlot.path). */
const pathCodes = Object.fromEntries(seriesPaths.map((path, index) => [path, index])) as Record<
  (typeof seriesPaths)[number],
  number
>;

/**
 * Byte strings to small ids (0, 1, ...), by FNV-1a hash and open addressing, without making a
 * string per lookup. Holds at most `limit` strings in a fixed pool; `id()` returns -1 (and `full`
 * is set) when a new string does not fit.
 */
class ByteInterner {
  readonly #mask: number;
  readonly #slots: Int32Array;
  readonly #starts: Int32Array;
  readonly #lengths: Int32Array;
  readonly #pool: Uint8Array;
  #used = 0;
  count = 0;
  full = false;
  readonly #texts: (string | undefined)[] = [];

  constructor(
    readonly limit = 1 << 15,
    poolBytes = 1 << 21,
  ) {
    this.#slots = new Int32Array(limit * 4);
    this.#mask = limit * 4 - 1;
    this.#starts = new Int32Array(limit);
    this.#lengths = new Int32Array(limit);
    this.#pool = new Uint8Array(poolBytes);
  }

  id(b: Uint8Array, start: number, end: number): number {
    let hash = 0x811c9dc5;
    for (let i = start; i < end; i++) hash = Math.imul(hash ^ (b[i] as number), 0x01000193);
    const length = end - start;
    const pool = this.#pool;
    let slot = hash & this.#mask;
    for (;;) {
      const stored = this.#slots[slot] as number;
      if (stored === 0) break;
      const id = stored - 1;
      if (this.#lengths[id] === length) {
        const at = this.#starts[id] as number;
        let same = true;
        for (let i = 0; i < length; i++) {
          if (pool[at + i] !== b[start + i]) {
            same = false;
            break;
          }
        }
        if (same) return id;
      }
      slot = (slot + 1) & this.#mask;
    }
    if (this.count >= this.limit || this.#used + length > pool.length) {
      this.full = true;
      return -1;
    }
    const id = this.count++;
    pool.set(b.subarray(start, end), this.#used);
    this.#starts[id] = this.#used;
    this.#lengths[id] = length;
    this.#used += length;
    this.#slots[slot] = id + 1;
    return id;
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
    this.#slots.fill(0);
    this.#used = 0;
    this.count = 0;
    this.full = false;
    this.#texts.length = 0;
  }
}
