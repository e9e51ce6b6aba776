// Prometheus metrics of the gateway, in a registry of their own (never prom-client's global one, so
// two gateways in one process, or the tests, do not share counters). The proxy reports through
// GatewayMetricsSink, the flow store through FlowStoreObserver; /metrics renders `registry`.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { type EgressPath, egressPaths } from '../catalog/model.js';
import type { FlowRecord } from '../flow/record.js';
import { flowOutcomes } from '../flow/vocabulary.js';
import type { ConnectionRefusal, GatewayMetricsSink } from '../gateway/contracts.js';
import { verdicts } from '../policy/verdict.js';
import type { FlowStoreObserver } from '../store/buffer.js';

export const metricPrefix = 'pathwarden_';

/** Label value for a flow field that is not set (a logged flow has no outcome, say). */
const none = 'none';
/** Label value for anything outside the known set: label values must stay a small, fixed set. */
const other = 'other';

const knownPaths = new Set<string>(egressPaths);
const knownVerdicts = new Set<string>(verdicts);
const knownOutcomes = new Set<string>(flowOutcomes);

function label(value: string | null | undefined, known: ReadonlySet<string>): string {
  if (value === null || value === undefined) return none;
  return known.has(value) ? value : other;
}

function bytes(value: number | null): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : 0;
}

export interface GatewayMetricsOptions {
  /** Also export Node's process metrics (CPU, memory, event loop lag) as pathwarden_process_* etc. */
  processMetrics?: boolean;
}

/** Finished flows (or bytes) of one label set, not added to their counter yet. */
interface PendingCount {
  labels: Record<string, string>;
  count: number;
}

/**
 * Counts per label set, added to a prom-client counter when the counter is read (its `collect`):
 * `Counter.inc` with labels builds and hashes a key of the sorted labels at every call, three per
 * finished flow (docs/performance.md, "Gateway request path, session 5"). Label sets are kept in the
 * order they first occurred, which is the order inc() at each flow gave the series.
 */
class PendingCounts {
  readonly #byKey = new Map<string, Map<string, Map<string, PendingCount>>>();
  readonly #inOrder: PendingCount[] = [];
  readonly #names: readonly [string, string, string];

  constructor(names: readonly [string, string, string]) {
    this.#names = names;
  }

  add(a: string, b: string, c: string, count: number): void {
    let byB = this.#byKey.get(a);
    if (byB === undefined) {
      byB = new Map();
      this.#byKey.set(a, byB);
    }
    let byC = byB.get(b);
    if (byC === undefined) {
      byC = new Map();
      byB.set(b, byC);
    }
    let pending = byC.get(c);
    if (pending === undefined) {
      const [nameA, nameB, nameC] = this.#names;
      const labels: Record<string, string> = { [nameA]: a, [nameB]: b };
      if (nameC !== '') labels[nameC] = c;
      pending = { labels, count: 0 };
      byC.set(c, pending);
      this.#inOrder.push(pending);
    }
    pending.count += count;
  }

  /** Adds what is pending to `counter`. */
  drainInto(counter: Counter<string>): void {
    for (const pending of this.#inOrder) {
      if (pending.count === 0) continue;
      counter.inc(pending.labels, pending.count);
      pending.count = 0;
    }
  }
}

/** What CountedHistogram writes in prom-client's Histogram: its one series (no labels). */
interface HistogramSeries {
  sum: number;
  count: number;
  bucketValues: Record<number, number>;
}

/**
 * A histogram without labels whose observations are counted here and written into prom-client's
 * Histogram when it is read (its `collect`), as PendingCounts does for counters: Histogram.observe
 * builds a label set and its hash per call and finds the bucket by its bound as a property key (a
 * double, made a string twice per call), about 2 % of the busy gateway's CPU at one observation per
 * request (docs/performance.md, "Gateway per request, session 11"). The sum is added up here in the
 * order of the observations from zero, as observe() adds it, and written whole, so the exposition
 * is the same to the last digit (metrics.test.ts compares the two).
 */
class CountedHistogram {
  readonly #bounds: readonly number[];
  /** Observations per bucket (not cumulative): the first bound at or above the value, as observe(). */
  readonly #counts: number[];
  #sum = 0;
  #count = 0;

  constructor(bounds: readonly number[]) {
    this.#bounds = bounds;
    this.#counts = bounds.map(() => 0);
  }

  observe(value: number): void {
    const bounds = this.#bounds;
    for (let index = 0; index < bounds.length; index++) {
      if (value <= (bounds[index] as number)) {
        (this.#counts[index] as number)++;
        break;
      }
    }
    this.#sum += value;
    this.#count++;
  }

  /** Forgets every observation (the registry's resetMetrics, through the histogram's reset). */
  clear(): void {
    this.#counts.fill(0);
    this.#sum = 0;
    this.#count = 0;
  }

  /** Writes the totals into `histogram`'s series (the prom-client 15 state its get() reads). */
  writeInto(histogram: Histogram): void {
    const state = histogram as unknown as { hashMap: Record<string, HistogramSeries> };
    if (Object.keys(state.hashMap).length === 0) histogram.zero({});
    const series = Object.values(state.hashMap)[0] as HistogramSeries;
    series.sum = this.#sum;
    series.count = this.#count;
    this.#bounds.forEach((bound, index) => {
      series.bucketValues[bound] = this.#counts[index] as number;
    });
  }
}

export class GatewayMetrics implements GatewayMetricsSink, FlowStoreObserver {
  readonly registry = new Registry();
  readonly #connections: Counter<'path' | 'verdict' | 'outcome'>;
  readonly #bytes: Counter<'path' | 'direction'>;
  readonly #activeTunnels: Gauge;
  readonly #pathUp: Gauge<'path'>;
  readonly #decisionSeconds: Histogram;
  readonly #decisionCounts: CountedHistogram;
  readonly #storeWriteErrors: Counter;
  readonly #storeDropped: Counter;
  readonly #refused: Counter<'reason'>;
  readonly #storeBuffered: Gauge;
  readonly #spoolBatches: Gauge;
  readonly #spoolBytes: Gauge;
  #tunnels = 0;
  readonly #pendingConnections = new PendingCounts(['path', 'verdict', 'outcome']);
  /** Bytes per path and direction (the third label is unused). */
  readonly #pendingBytes = new PendingCounts(['path', 'direction', '']);

  constructor(options: GatewayMetricsOptions = {}) {
    const registers = [this.registry];
    this.#connections = new Counter({
      name: `${metricPrefix}connections_total`,
      help: 'Connections finished, by egress path (none when refused before one was chosen), verdict and outcome.',
      labelNames: ['path', 'verdict', 'outcome'],
      registers,
      collect: () => this.#pendingConnections.drainInto(this.#connections),
    });
    this.#bytes = new Counter({
      name: `${metricPrefix}bytes_total`,
      help: 'Bytes carried by finished connections, by egress path and direction (up = client to server).',
      labelNames: ['path', 'direction'],
      registers,
      collect: () => this.#pendingBytes.drainInto(this.#bytes),
    });
    this.#activeTunnels = new Gauge({
      name: `${metricPrefix}active_tunnels`,
      help: 'Connections open through the gateway right now.',
      registers,
    });
    this.#pathUp = new Gauge({
      name: `${metricPrefix}path_up`,
      help: 'Health of each egress path from its probe: 1 up, 0 down (absent until the first probe).',
      labelNames: ['path'],
      registers,
    });
    const decisionBuckets = [
      1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2,
    ];
    this.#decisionCounts = new CountedHistogram(decisionBuckets);
    this.#decisionSeconds = new Histogram({
      name: `${metricPrefix}decision_duration_seconds`,
      help: 'Time spent deciding the path of one connection (catalog lookup and classification).',
      // decide() takes about a microsecond; the upper buckets catch pauses (GC, a blocked loop).
      buckets: decisionBuckets,
      registers,
      collect: () => this.#decisionCounts.writeInto(this.#decisionSeconds),
    });
    // The totals are written whole at each read, so a reset (Registry.resetMetrics) must clear them
    // too, or the next read would bring back every observation before it.
    const reset = this.#decisionSeconds.reset.bind(this.#decisionSeconds);
    this.#decisionSeconds.reset = () => {
      this.#decisionCounts.clear();
      reset();
    };
    this.#storeWriteErrors = new Counter({
      name: `${metricPrefix}store_write_errors_total`,
      help: 'Flow store batches that failed to write (each is retried, then dropped).',
      registers,
    });
    this.#refused = new Counter({
      name: `${metricPrefix}connections_refused_total`,
      help: 'Client connections closed without a request: over the connection limit (limit), or sent nothing within limits.headersTimeoutMs (silent).',
      labelNames: ['reason'],
      registers,
    });
    this.#storeDropped = new Counter({
      name: `${metricPrefix}store_dropped_flows_total`,
      help: 'Flow records the store gave up on (a batch out of attempts, a full buffer, or appended after close).',
      registers,
    });
    this.#storeBuffered = new Gauge({
      name: `${metricPrefix}store_buffered_flows`,
      help: 'Flow records appended but not yet written to the store.',
      registers,
    });
    this.#spoolBatches = new Gauge({
      name: `${metricPrefix}store_spool_batches`,
      help: 'Batches in the ClickHouse store spool: not acknowledged by ClickHouse yet, replayed in order.',
      registers,
    });
    this.#spoolBytes = new Gauge({
      name: `${metricPrefix}store_spool_bytes`,
      help: 'Bytes of the batches in the ClickHouse store spool.',
      registers,
    });
    // Series that must read 0 before the first event, rather than be missing.
    for (const path of egressPaths)
      for (const direction of ['up', 'down']) this.#bytes.inc({ path, direction }, 0);
    this.#activeTunnels.set(0);
    this.#storeBuffered.set(0);
    this.#spoolBatches.set(0);
    this.#spoolBytes.set(0);
    this.#storeWriteErrors.inc(0);
    this.#storeDropped.inc(0);
    for (const reason of ['limit', 'silent']) this.#refused.inc({ reason }, 0);
    if (options.processMetrics ?? true)
      collectDefaultMetrics({ register: this.registry, prefix: metricPrefix });
  }

  decisionObserved(seconds: number): void {
    if (Number.isFinite(seconds) && seconds >= 0) this.#decisionCounts.observe(seconds);
  }

  tunnelOpened(): void {
    this.#tunnels++;
    this.#activeTunnels.set(this.#tunnels);
  }

  tunnelClosed(): void {
    // Never below zero, even if the proxy reports a close twice.
    this.#tunnels = Math.max(0, this.#tunnels - 1);
    this.#activeTunnels.set(this.#tunnels);
  }

  flowFinished(flow: FlowRecord): void {
    const path = label(flow.egressPath, knownPaths);
    this.#pendingConnections.add(
      path,
      label(flow.verdict, knownVerdicts),
      label(flow.outcome, knownOutcomes),
      1,
    );
    const up = bytes(flow.bytesUp);
    const down = bytes(flow.bytesDown);
    if (up > 0) this.#pendingBytes.add(path, 'up', '', up);
    if (down > 0) this.#pendingBytes.add(path, 'down', '', down);
  }

  pathHealth(path: EgressPath, up: boolean): void {
    this.#pathUp.set({ path }, up ? 1 : 0);
  }

  connectionRefused(reason: ConnectionRefusal): void {
    this.#refused.inc({ reason });
  }

  storeWriteFailed(): void {
    this.#storeWriteErrors.inc();
  }

  storeFlowsDropped(count: number): void {
    if (count > 0) this.#storeDropped.inc(count);
  }

  storeFlowsBuffered(count: number): void {
    this.#storeBuffered.set(count);
  }

  storeSpooled(batches: number, bytes: number): void {
    this.#spoolBatches.set(batches);
    this.#spoolBytes.set(bytes);
  }

  /** The Prometheus text exposition of every metric. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
