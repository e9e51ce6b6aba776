// Azure NSG (v2) and VNet flow logs report one connection as several tuples: B when it begins, C
// every few minutes while it lasts, E when it ends, each C / E with the packets and bytes since the
// previous update. This joins them back into one flow record per connection, so flow counts are
// connections and byte counts add up. Memory is bounded by the connections open at once.
import { emptyFlow, type FlowOriginKind, type FlowRecord } from '../flow/record.js';

/** One decoded tuple that is to become (part of) a flow: outbound and allowed. */
export interface FlowTuple {
  /** Epoch milliseconds. */
  time: number;
  source: string;
  destination: string;
  sourcePort: number | null;
  destinationPort: number | null;
  protocol: string;
  /** B, C, E, or null when the log has no states (NSG version 1): the tuple is a flow by itself. */
  state: 'B' | 'C' | 'E' | null;
  /** Bytes since the previous update; null when the tuple does not carry counts (B). */
  bytesOut: number | null;
  bytesIn: number | null;
}

interface OpenFlow {
  flow: FlowRecord;
}

/** Connections kept open waiting for their E tuple; past this the oldest is written out as it is. */
export const MAX_OPEN_FLOWS = 100_000;

export class FlowTupleJoiner {
  readonly #open = new Map<string, OpenFlow>();

  constructor(
    private readonly kind: FlowOriginKind,
    private readonly file: string,
    private readonly maxOpen = MAX_OPEN_FLOWS,
  ) {}

  /** Adds one tuple read at `line`; a flow it completes is pushed onto `out`. */
  add(tuple: FlowTuple, line: number, out: FlowRecord[]): void {
    if (tuple.state === null) {
      out.push(this.#newFlow(tuple, line));
      return;
    }
    const key = `${tuple.source} ${tuple.sourcePort} ${tuple.destination} ${tuple.destinationPort} ${tuple.protocol}`;
    let open = this.#open.get(key);
    if (tuple.state === 'B' && open !== undefined) {
      // The same 5-tuple begins again (port reuse): the earlier connection is over.
      out.push(open.flow);
      this.#open.delete(key);
      open = undefined;
    }
    if (open === undefined) {
      open = { flow: this.#newFlow(tuple, line) };
      if (tuple.state !== 'E') {
        this.#open.set(key, open);
        if (this.#open.size > this.maxOpen) this.#evictOldest(out);
      }
    }
    if (tuple.state !== 'B') this.#count(open.flow, tuple);
    if (tuple.state === 'E') {
      this.#open.delete(key);
      out.push(open.flow);
    }
  }

  /** Writes out the connections still open (begun or continued, not ended within this input). */
  finish(out: FlowRecord[]): void {
    for (const open of this.#open.values()) out.push(open.flow);
    this.#open.clear();
  }

  #evictOldest(out: FlowRecord[]): void {
    const oldest = this.#open.keys().next();
    if (oldest.done) return;
    const open = this.#open.get(oldest.value) as OpenFlow;
    this.#open.delete(oldest.value);
    out.push(open.flow);
  }

  #newFlow(tuple: FlowTuple, line: number): FlowRecord {
    const flow = emptyFlow({ kind: this.kind, file: this.file, line });
    flow.start = tuple.time;
    flow.client = tuple.source;
    flow.sourceAddress = tuple.source;
    flow.destination = tuple.destination;
    flow.port = tuple.destinationPort;
    flow.protocol = tuple.protocol;
    return flow;
  }

  #count(flow: FlowRecord, tuple: FlowTuple): void {
    flow.end = tuple.time;
    if (tuple.bytesOut !== null) flow.bytesUp = (flow.bytesUp ?? 0) + tuple.bytesOut;
    if (tuple.bytesIn !== null) flow.bytesDown = (flow.bytesDown ?? 0) + tuple.bytesIn;
  }
}
