// Problem reporting and counters for one capture. Packets that cannot be accounted for are
// reported through the ingest context with their packet number, but a capture can hold millions
// of them: each kind is listed a limited number of times, then summed up once at the end.
import type { IngestContext } from '../format.js';

/** Kinds of reported problems (each listed at most `perKindLimit` times). */
export type ProblemKind =
  | 'truncated'
  | 'malformed'
  | 'unsupported-ethertype'
  | 'unsupported-link-type'
  | 'later-fragment'
  | 'unknown-interface'
  | 'bad-block'
  | 'dns'
  | 'cut'
  | 'corrupt'
  | 'input-error';

/** Counters of what a capture held; published with the summary. */
export interface CaptureCounters {
  packets: number;
  /** Packets whose captured length is below their original length (snapshot length). */
  snapCut: number;
  /** Packets skipped silently, by reason. */
  notIp: number;
  otherIpProtocol: number;
  encrypted: number;
  /** Packets skipped with a problem or note, by reason. */
  laterFragment: number;
  unsupportedEthertype: number;
  unsupportedLinkType: number;
  truncated: number;
  malformed: number;
  unknownInterface: number;
  /** pcapng blocks that are not packets or interfaces (statistics, name resolution, custom, ...). */
  otherBlocks: number;
  /** DNS messages on port 53 that could not be read completely. */
  badDns: number;
  /** Connections emitted early because the table of open connections was full. */
  evicted: number;
  /** Connections whose first client bytes could not be buffered (reassembly budget spent). */
  reassemblyBudgetSpent: number;
  /** Packets that came in a VXLAN, GENEVE, GRE or ERSPAN encapsulation (read from the inside). */
  tunnelled: number;
}

export function emptyCounters(): CaptureCounters {
  return {
    packets: 0,
    snapCut: 0,
    notIp: 0,
    otherIpProtocol: 0,
    encrypted: 0,
    laterFragment: 0,
    unsupportedEthertype: 0,
    unsupportedLinkType: 0,
    truncated: 0,
    malformed: 0,
    unknownInterface: 0,
    otherBlocks: 0,
    badDns: 0,
    evicted: 0,
    reassemblyBudgetSpent: 0,
    tunnelled: 0,
  };
}

interface KindState {
  listed: number;
  suppressed: number;
  firstSuppressed: number;
}

export class CaptureProblems {
  readonly counters: CaptureCounters = emptyCounters();
  readonly #ctx: IngestContext;
  readonly #perKindLimit: number;
  readonly #kinds = new Map<ProblemKind, KindState>();
  readonly #once = new Set<string>();

  constructor(ctx: IngestContext, perKindLimit = 20) {
    this.#ctx = ctx;
    this.#perKindLimit = perKindLimit;
  }

  /**
   * True when a problem of this kind at `packet` should be listed (the caller then builds the
   * message and calls `report`); false when it is only counted for the closing summary.
   */
  wants(kind: ProblemKind, packet: number): boolean {
    let state = this.#kinds.get(kind);
    if (!state) {
      state = { listed: 0, suppressed: 0, firstSuppressed: 0 };
      this.#kinds.set(kind, state);
    }
    if (state.listed < this.#perKindLimit) {
      state.listed++;
      return true;
    }
    if (state.suppressed++ === 0) state.firstSuppressed = packet;
    return false;
  }

  report(packet: number, message: string): void {
    this.#ctx.problem(packet, message);
  }

  /** Reports `message` the first time `key` is seen, and never again for this capture. */
  once(key: string, packet: number, message: string): boolean {
    if (this.#once.has(key)) return false;
    this.#once.add(key);
    this.#ctx.problem(packet, message);
    return true;
  }

  /** Reports how many problems of each kind were counted but not listed. */
  finish(): void {
    for (const [kind, state] of this.#kinds) {
      if (state.suppressed === 0) continue;
      this.#ctx.problem(
        state.firstSuppressed,
        `${state.suppressed} more packet(s) with problems of kind "${kind}" were skipped (not listed one by one; the first of them is this packet)`,
      );
    }
  }
}
