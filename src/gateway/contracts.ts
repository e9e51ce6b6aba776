// The seams inside the gateway: the proxy produces FlowRecords and events, the flow store keeps
// records, metrics count them, the admin API serves them. Each side codes against these types.
import type { EgressPath } from '../catalog/model.js';
import type { FlowRecord } from '../flow/record.js';
import type { Verdict } from '../policy/verdict.js';

export interface FlowQuery {
  /** Substring of host, SNI or destination (case-insensitive). */
  host?: string;
  component?: string;
  verdict?: Verdict | 'blocked';
  /** Expected path (`expressroute`, `internet`, `either`, `unknown`, `not-covered`). */
  expectedPath?: string;
  /** Egress the gateway used. */
  egressPath?: EgressPath;
  outcome?: FlowRecord['outcome'];
  /** Epoch ms, inclusive / exclusive. */
  from?: number;
  to?: number;
  /** Page size (default 100, at most 1000) and offset. */
  limit?: number;
  offset?: number;
}

export interface StoredFlow extends FlowRecord {
  /** Store-assigned id, increasing in append order. */
  id: number;
}

export interface FlowPage {
  total: number;
  offset: number;
  limit: number;
  flows: StoredFlow[];
}

export interface FlowStats {
  flows: number;
  bytesUp: number;
  bytesDown: number;
  byVerdict: Record<string, number>;
  byEgressPath: Record<string, { flows: number; bytesUp: number; bytesDown: number }>;
  byOutcome: Record<string, number>;
  /** Bytes and flows per path per time bucket (bucket start, epoch ms). */
  series: { bucketMs: number; points: { t: number; path: string; flows: number; bytes: number }[] };
}

/**
 * Flows matching a query counted per rule and destination (`host`, else SNI, else destination
 * address): what the dashboard's Exceptions page shows.
 */
export interface FlowGroup {
  ruleId: string | null;
  host: string | null;
  flows: number;
  bytesUp: number;
  bytesDown: number;
  /** Latest start time in the group (epoch ms); null when no record has one. */
  lastSeen: number | null;
}

/** Where flow records go. Implementations: DuckDB (default) and JSONL. */
export interface FlowStore {
  readonly kind: string;
  /** Buffers a record; never throws (write failures are logged and counted). */
  append(flow: FlowRecord): void;
  /** Writes everything buffered so far. */
  flush(): Promise<void>;
  query(query: FlowQuery): Promise<FlowPage>;
  stats(range?: { from?: number; to?: number; bucketMs?: number }): Promise<FlowStats>;
  /**
   * Optional: groups the flows matching `query` (its limit and offset ignored) per rule and
   * destination inside the store. Without it the dashboard pages through query(), up to a limit.
   */
  groups?(query: FlowQuery): Promise<FlowGroup[]>;
  /** Flushes and releases the store. */
  close(): Promise<void>;
}

/** What the proxy tells the metrics. */
export interface GatewayMetricsSink {
  /** Seconds spent in decide() (and classification) for one connection. */
  decisionObserved(seconds: number): void;
  tunnelOpened(): void;
  tunnelClosed(): void;
  /** A connection ended: count it and its bytes by egress path, verdict and outcome. */
  flowFinished(flow: FlowRecord): void;
  pathHealth(path: EgressPath, up: boolean): void;
}

export interface PathHealth {
  path: EgressPath;
  /** `unknown` until the first probe (or when no probe is configured). */
  state: 'up' | 'down' | 'unknown';
  since: number;
  lastError: string | null;
  /** Recent state changes, newest last (bounded). */
  history: { t: number; state: 'up' | 'down' }[];
}

/** Live state the admin API reads from the proxy. */
export interface GatewayStatus {
  health(): PathHealth[];
  activeTunnels(): number;
}
