// The FlowStore interface and the opener for its implementations: DuckDB (default), JSON lines, or
// ClickHouse (a fleet's shared store). All keep the same records and answer the same queries
// (src/store/store.test.ts runs one contract against each). The gateway, the admin API, `dashboard --store` and the benchmarks depend on this.

import type { FlowRecord } from '../flow/record.js';
import type { RecordJson } from '../flow/record-json.js';
import type { EgressPath, Verdict } from '../flow/vocabulary.js';
import type { FlowStoreOptions } from './buffer.js';
import type { ClickHouseStoreConfig, ClickHouseStoreOptions } from './clickhouse.js';
import { openJsonlFlowStore } from './jsonl.js';

export type { FlowStoreObserver, FlowStoreOptions, StoreLog } from './buffer.js';

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
  /** Only the flows this gateway (or audit, `audit:<id>`) stored: the `gateway` column. */
  gateway?: string;
  /** Page size (default 100, at most 1000). */
  limit?: number;
  /**
   * Keyset paging: the `next` of the previous page; the page starts right after that page's last
   * flow, however deep, at the cost of the first page. Not combined with `offset`.
   */
  cursor?: string;
  /** Offset paging (older clients): costs grow with the offset. */
  offset?: number;
}

/** A statistics request: a time range, a bucket, and optionally one gateway. */
export interface StatsRange {
  from?: number;
  to?: number;
  bucketMs?: number;
  gateway?: string;
  /**
   * False when only the totals are wanted (the live ticks): `series.points` is then empty, and a
   * store with a per-minute rollup answers from it whatever the span.
   */
  series?: boolean;
}

export interface StoredFlow extends FlowRecord {
  /** Store-assigned id, increasing in append order (per gateway in a shared ClickHouse store). */
  id: number;
  /** Who wrote the record: the gateway's `id`, or `audit:<id>` for an audit ('' when not named). */
  gateway: string;
}

export interface FlowPage {
  total: number;
  /** The offset asked for (0 with a cursor). */
  offset: number;
  limit: number;
  flows: StoredFlow[];
  /** Cursor of the page after this one; null when no flow follows. */
  next: string | null;
}

export interface FlowStats {
  flows: number;
  bytesUp: number;
  bytesDown: number;
  byVerdict: Record<string, number>;
  byEgressPath: Record<string, { flows: number; bytesUp: number; bytesDown: number }>;
  byOutcome: Record<string, number>;
  /** Per writer (`gateway` column: a gateway's id, `audit:<id>`, or '' when not named). */
  byGateway: Record<string, { flows: number; bytesUp: number; bytesDown: number }>;
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

/** Where flow records go. Implementations: DuckDB (default), JSONL and ClickHouse. */
export interface FlowStore {
  readonly kind: string;
  /**
   * Buffers a record; never throws (write failures are logged and counted). `json`, when the caller
   * made it for another sink (the gateway's log), is the record's JSON text as it is now: a store
   * that writes JSON may build its line from it (the JSONL store) instead of serializing again.
   */
  append(flow: FlowRecord, json?: RecordJson): void;
  /** Writes everything buffered so far. */
  flush(): Promise<void>;
  /** Records appended and not written yet (optional: bulk loaders pace themselves on it). */
  readonly buffered?: number;
  query(query: FlowQuery): Promise<FlowPage>;
  stats(range?: StatsRange): Promise<FlowStats>;
  /**
   * Optional: groups the flows matching `query` (its limit and offset ignored) per rule and
   * destination inside the store. Without it the dashboard pages through query(), up to a limit.
   */
  groups?(query: FlowQuery): Promise<FlowGroup[]>;
  /**
   * Optional: gives back the memory the store's engine keeps cached or free after a load (the
   * gateway calls it once it has gone quiet, src/gateway/idle-release.ts). Does nothing once close()
   * has begun.
   */
  releaseMemory?(): Promise<void>;
  /** Flushes and releases the store. */
  close(): Promise<void>;
}

/** Which store, where, and how often buffered records are written (the gateway config's `store`). */
export type FlowStoreConfig =
  | {
      kind: 'duckdb' | 'jsonl';
      path: string;
      /** Records are written at least this often; after a crash at most this much is lost. */
      flushIntervalMs: number;
    }
  | ({ kind: 'clickhouse' } & ClickHouseStoreConfig);

/**
 * Opens (creating when needed) the store the config names; records already there are kept and new
 * ones appended after them. Throws PW_ERR_STORE_OPEN when the file or table cannot be used.
 */
export function openFlowStore(
  config: FlowStoreConfig,
  options: FlowStoreOptions & ClickHouseStoreOptions = {},
): Promise<FlowStore> {
  switch (config.kind) {
    case 'duckdb':
      // Loaded on use: DuckDB's library adds about 30 MB of RSS to a process that loads it, which
      // a JSONL or ClickHouse store does not need.
      return import('./duckdb.js').then(({ openDuckDbFlowStore }) =>
        openDuckDbFlowStore(config.path, config.flushIntervalMs, options),
      );
    case 'jsonl':
      return openJsonlFlowStore(config.path, config.flushIntervalMs, options);
    case 'clickhouse':
      // Loaded on use: only a ClickHouse store needs its HTTP client.
      return import('./clickhouse.js').then(({ openClickHouseFlowStore }) =>
        openClickHouseFlowStore(config, options.gateway ?? '', options),
      );
  }
}
