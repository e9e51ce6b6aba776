// Opens a stored flow file for `pathwarden dashboard --store FILE`, whatever wrote it: a gateway's
// DuckDB store, a gateway's JSONL store (records with ids), or an audit's --ndjson output (classified
// FlowRecords without ids). The kind is read from the content, not trusted from the file name. A
// clickhouse://HOST:PORT/DATABASE[?table=flows] target reads a fleet's ClickHouse table instead.

import { createReadStream } from 'node:fs';
import { mkdtemp, open as openFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { PathwardenError } from '../../errors.js';
import type { FlowRecord } from '../../flow/record.js';
import type { FlowStore } from '../../store/store.js';
import { openFlowStore, type StoreLog } from '../../store/store.js';
import { isClickHouseTarget, parseClickHouseTarget } from '../../store/target.js';

export interface StoredFlowSource {
  store: FlowStore;
  /** What was opened, for the startup message: `duckdb`, `jsonl`, or `ndjson (audit, N records)`. */
  kind: 'duckdb' | 'jsonl' | 'ndjson' | 'clickhouse';
  /** Records imported from an audit's NDJSON; lines that were not records, by number. */
  imported?: { records: number; badLines: number[] };
  close(): Promise<void>;
}

/** DuckDB's file header: an 8-byte checksum, then the magic bytes `DUCK`. */
const duckdbMagic = Buffer.from('DUCK');
/** An NDJSON import awaits each write at this many records, so memory stays flat on big audits. */
const importBatch = 8192;

export type FlowFileKind = 'duckdb' | 'jsonl' | 'ndjson';

/** Reads the head of the file: DuckDB by its magic bytes, JSON lines by a first `{`. */
export async function detectFlowFile(file: string): Promise<FlowFileKind> {
  let head: Buffer;
  try {
    const handle = await openFile(file, 'r');
    try {
      head = Buffer.alloc(65536);
      const { bytesRead } = await handle.read(head, 0, head.length, 0);
      head = head.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  } catch (cause) {
    const reason = (cause as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : String(cause);
    throw new PathwardenError('PW_ERR_STORE_OPEN', `cannot open flow file ${file}: ${reason}`, { cause });
  }
  if (head.length >= 12 && head.subarray(8, 12).equals(duckdbMagic)) return 'duckdb';
  const text = head.toString('utf8').trimStart();
  if (text.startsWith('{')) {
    const firstLine = text.split('\n', 1)[0] ?? '';
    try {
      const record = JSON.parse(firstLine) as { id?: unknown };
      return typeof record.id === 'number' ? 'jsonl' : 'ndjson';
    } catch {
      // The first line may be longer than the head read: fall through to the id test below.
      return /^\{\s*"id"\s*:\s*\d/.test(text) ? 'jsonl' : 'ndjson';
    }
  }
  if (text === '') {
    throw new PathwardenError('PW_ERR_STORE_OPEN', `flow file ${file} is empty: nothing to show`);
  }
  throw new PathwardenError(
    'PW_ERR_STORE_OPEN',
    `${file} is neither a DuckDB flow store nor JSON lines of flow records (a gateway store or audit --ndjson output)`,
  );
}

export async function openStoredFlows(
  file: string,
  options: { log?: StoreLog } = {},
): Promise<StoredFlowSource> {
  if (isClickHouseTarget(file)) return openClickHouseSource(file, options);
  const kind = await detectFlowFile(file);
  // Nothing is appended: the flush interval only matters for writes, which never happen here.
  if (kind === 'duckdb' || kind === 'jsonl') {
    const store = await openFlowStore({ kind, path: file, flushIntervalMs: 60_000 }, options);
    return { store, kind, close: () => store.close() };
  }
  return importNdjson(file, options);
}

/**
 * Every query runs as SQL in ClickHouse. The table must exist (nothing is created); the spool a store
 * keeps for its writes is a temporary folder here, since the dashboard writes nothing.
 */
async function openClickHouseSource(target: string, options: { log?: StoreLog }): Promise<StoredFlowSource> {
  const dir = await mkdtemp(join(tmpdir(), 'pathwarden-dashboard-'));
  try {
    const config = { ...parseClickHouseTarget(target, dir, 60_000), createTables: false };
    const store = await openFlowStore(config, options);
    return {
      store,
      kind: 'clickhouse',
      close: async () => {
        await store.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/**
 * An audit's NDJSON carries no store ids, and the JSONL store would rescan the file per query: the
 * records go into a temporary DuckDB store instead (ids follow the file's order), which answers the
 * dashboard's queries in SQL and is deleted on close.
 */
async function importNdjson(file: string, options: { log?: StoreLog }): Promise<StoredFlowSource> {
  const dir = await mkdtemp(join(tmpdir(), 'pathwarden-dashboard-'));
  let store: FlowStore | undefined;
  try {
    store = await openFlowStore(
      { kind: 'duckdb', path: join(dir, 'flows.duckdb'), flushIntervalMs: 60_000 },
      options,
    );
    const badLines: number[] = [];
    let records = 0;
    let number = 0;
    const lines = createInterface({
      input: createReadStream(file, { encoding: 'utf8' }),
      crlfDelay: Number.POSITIVE_INFINITY,
    });
    for await (const line of lines) {
      number++;
      if (line.trim() === '') continue;
      const record = parseRecord(line);
      if (record === undefined) {
        badLines.push(number);
        continue;
      }
      store.append(record);
      records++;
      if (records % importBatch === 0) await store.flush();
    }
    await store.flush();
    const opened = store;
    return {
      store: opened,
      kind: 'ndjson',
      imported: { records, badLines },
      close: async () => {
        await opened.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await store?.close().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    if (error instanceof PathwardenError) throw error;
    throw new PathwardenError(
      'PW_ERR_STORE_OPEN',
      `cannot read flow records from ${file}: ${String(error)}`,
      {
        cause: error,
      },
    );
  }
}

/** A line is a flow record when it is a JSON object with an origin (every FlowRecord has one). */
function parseRecord(line: string): FlowRecord | undefined {
  try {
    const value: unknown = JSON.parse(line);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    const origin = (value as { origin?: unknown }).origin;
    if (typeof origin !== 'object' || origin === null) return undefined;
    return value as FlowRecord;
  } catch {
    return undefined;
  }
}
