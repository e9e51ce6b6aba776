// The `--store` argument of `dashboard` and `audit`: a flow store file, or a ClickHouse table named as
// clickhouse://[user:password@]HOST:PORT/DATABASE[?table=flows] (the HTTP port). Parsed once here.
import { PathwardenError } from '../errors.js';
import { checkIdentifier } from './clickhouse-schema.js';
import type { FlowStoreConfig } from './store.js';

export type ClickHouseTarget = Extract<FlowStoreConfig, { kind: 'clickhouse' }>;

export function isClickHouseTarget(text: string): boolean {
  return /^clickhouse:\/\//i.test(text);
}

/**
 * A ClickHouse store config from a clickhouse:// URL; `spool` is where unacknowledged batches wait
 * (writers only). Throws PW_ERR_USAGE naming what is wrong.
 */
export function parseClickHouseTarget(text: string, spool: string, flushIntervalMs = 1000): ClickHouseTarget {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new PathwardenError(
      'PW_ERR_USAGE',
      `${JSON.stringify(text)} is not a URL: expected clickhouse://HOST:PORT/DATABASE`,
    );
  }
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (url.hostname === '' || database === '') {
    throw new PathwardenError(
      'PW_ERR_USAGE',
      `${text}: expected clickhouse://HOST:PORT/DATABASE[?table=flows]`,
    );
  }
  for (const name of url.searchParams.keys()) {
    if (name !== 'table')
      throw new PathwardenError(
        'PW_ERR_USAGE',
        `${text}: unknown parameter ${JSON.stringify(name)} (only table=)`,
      );
  }
  const http = new URL(`http://${url.host}`);
  http.username = url.username;
  http.password = url.password;
  return {
    kind: 'clickhouse',
    url: http.toString().replace(/\/$/, ''),
    database: checkIdentifier('database', database),
    table: checkIdentifier('table', url.searchParams.get('table') ?? 'flows'),
    flushIntervalMs,
    spool,
    createTables: true,
  };
}

/** A writer's store from `--store`: clickhouse://..., a `.jsonl` file, or else a DuckDB file. */
export function storeTarget(text: string, spool: string): FlowStoreConfig {
  if (isClickHouseTarget(text)) return parseClickHouseTarget(text, spool);
  return { kind: text.endsWith('.jsonl') ? 'jsonl' : 'duckdb', path: text, flushIntervalMs: 1000 };
}
