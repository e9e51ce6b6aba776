// The audit's fast path through the two busiest line formats (Squid native, Zeek conn): the parser
// describes a flow by numbers and byte offsets into its read chunk (FlowFacts, one object reused
// for every line) and offers it to a FlowCounter, which counts it without a FlowRecord when an
// earlier flow with the same key fields taught it where. Otherwise the parser builds the record as
// always and hands it to the counter (or yields it, when no counter is given).
import type { FlowRecord } from '../flow/record.js';

/** One flow's fields as numbers and offsets into `bytes`; -1 (NaN for times) means absent. */
export class FlowFacts {
  /** The read chunk the offsets point into (its bytes are the line's bytes). */
  bytes: Buffer = Buffer.alloc(0);
  line = 0;
  /** Epoch ms. */
  start = Number.NaN;
  end = Number.NaN;
  bytesUp = -1;
  bytesDown = -1;
  port = -1;
  /** The name the client asked for (decides the flow when present). */
  nameStart = -1;
  nameEnd = -1;
  /** fnv1a() of the name's bytes, computed by the parser while it reads them. */
  nameHash = 0;
  /** The upstream proxy the flow was handed to. */
  upstreamStart = -1;
  upstreamEnd = -1;
  /** The destination address, when it is a dotted-quad IPv4 address (`destination4` its value). */
  destinationStart = -1;
  destinationEnd = -1;
  destination4 = -1;

  /** Sets every field to absent except `bytes` and `line`. */
  reset(bytes: Buffer, line: number): this {
    this.bytes = bytes;
    this.line = line;
    this.start = Number.NaN;
    this.end = Number.NaN;
    this.bytesUp = -1;
    this.bytesDown = -1;
    this.port = -1;
    this.nameStart = -1;
    this.nameEnd = -1;
    this.nameHash = 0;
    this.upstreamStart = -1;
    this.upstreamEnd = -1;
    this.destinationStart = -1;
    this.destinationEnd = -1;
    this.destination4 = -1;
    return this;
  }
}

/**
 * Takes the flows of one input in place of the parser's batches (IngestContext.counter). Both calls
 * are synchronous, so flows are taken in input order.
 */
export interface FlowCounter {
  /**
   * Counts the flow `facts` describes (no source address, component or protocol-specific names,
   * as in Squid native and Zeek conn lines) and returns true, or returns false having done nothing:
   * the parser then builds the FlowRecord and passes it to `take()` at once.
   */
  count(facts: FlowFacts): boolean;
  /** Takes a complete flow (classified and counted at once; never kept). */
  take(flow: FlowRecord): void;
  /** Flows taken or counted so far. */
  readonly taken: number;
  /**
   * Optional (AuditCounter with its WebAssembly scanner): counts the Squid native lines of
   * `bytes` from `position` that it can by itself (`fresh` on the first call for a chunk) and
   * returns the offset of the first line it leaves to the parser, the chunk's length when none;
   * `linesRead` is then the number of lines it read. The parser reads that one line as always
   * and calls again after it.
   */
  squidLines?(bytes: Buffer, position: number, fresh: boolean): number;
  /** As squidLines(), for the Zeek conn records of a section laid out as `layout`. */
  zeekLines?(bytes: Buffer, position: number, fresh: boolean, layout: ZeekConnLayout): number;
  readonly linesRead?: number;
  /** True when squidLines() and zeekLines() read lines (else the parser does not call them). */
  readonly scansLines?: boolean;
}

/**
 * Where a Zeek conn section's fields are (ZeekTsvReader), for a counter that reads its lines
 * itself: the one-byte separator, the unset marker's bytes, and `columns`: the last column read,
 * then the columns of ts, id.resp_h, id.resp_p, proto, duration, orig_bytes and resp_bytes (-1:
 * absent).
 */
export interface ZeekConnLayout {
  separator: number;
  unset: Uint8Array;
  columns: Int32Array;
}

/** FNV-1a (32 bits): the offset basis and prime, for a parser that hashes bytes as it scans them. */
export const FNV_BASIS = 0x811c9dc5;
export const FNV_PRIME = 0x01000193;

/** FNV-1a of `b[start, end)` (FlowFacts.nameHash; the counter's interner). */
export function fnv1a(b: Uint8Array, start: number, end: number): number {
  let hash = FNV_BASIS;
  for (let i = start; i < end; i++) hash = Math.imul(hash ^ (b[i] as number), FNV_PRIME);
  return hash;
}
