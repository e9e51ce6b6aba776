// releaseMemory(): the DuckDB store gives back its allocators' free memory when the gateway goes
// quiet (src/gateway/idle-release.ts). It must leave the store as it was: the limit, the records,
// the appends after it.
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBConnection } from '@duckdb/node-api';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { emptyFlow, type FlowRecord } from '../flow/record.js';
import { openFlowStore } from './store.js';

const flow = (host: string, start: number): FlowRecord => ({
  ...emptyFlow({ kind: 'gateway' }),
  start,
  end: start + 5,
  host,
  port: 443,
});

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pw-release-memory-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

test('the DuckDB store keeps its records and takes appends after releasing memory', async () => {
  const path = join(dir, 'flows.duckdb');
  const store = await openFlowStore({ kind: 'duckdb', path, flushIntervalMs: 60_000 });
  try {
    expect(store.releaseMemory).toBeTypeOf('function');
    for (let i = 0; i < 3000; i++) store.append(flow(`h${i % 50}.example`, 1000 + i));
    await store.flush();
    await store.releaseMemory?.();
    store.append(flow('after.example', 9000));
    await store.flush();
    const page = await store.query({ limit: 1 });
    expect(page.total).toBe(3001);
    expect(page.flows[0]?.host).toBe('after.example');
  } finally {
    await store.close();
  }
  // Reopened: everything was written.
  const again = await openFlowStore({ kind: 'duckdb', path, flushIntervalMs: 60_000 });
  try {
    expect((await again.query({ limit: 0 })).total).toBe(3001);
  } finally {
    await again.close();
  }
});

test('releasing memory folds the WAL into the file, between batches, and appends go on after it', async () => {
  // The store checkpoints at each full row group; a quiet gateway folds what it holds before that.
  const path = join(dir, 'flows.duckdb');
  const store = await openFlowStore({ kind: 'duckdb', path, flushIntervalMs: 60_000 });
  const walBytes = () => (existsSync(`${path}.wal`) ? statSync(`${path}.wal`).size : 0);
  try {
    for (let i = 0; i < 3000; i++) store.append(flow(`h${i % 50}.example`, 1000 + i));
    await store.flush();
    expect(walBytes()).toBeGreaterThan(0);
    // A batch written while the release runs waits for the checkpoint, and is not lost.
    store.append(flow('during.example', 5000));
    const released = store.releaseMemory?.();
    const flushed = store.flush();
    await Promise.all([released, flushed]);
    store.append(flow('after.example', 9000));
    await store.releaseMemory?.();
    expect(walBytes()).toBe(0);
    expect((await store.query({ limit: 0 })).total).toBe(3002);
  } finally {
    await store.close();
  }
});

test('releasing memory once the DuckDB store is closing does nothing, instead of opening a connection to a closing database', async () => {
  // Before: release() only waits for the reads that exist when close begins, so a release started
  // after that connected while CHECKPOINT and closeSync() ran (a segfault in 3 of 14 runs), and one
  // started after close failed with "instance closed".
  const store = await openFlowStore({
    kind: 'duckdb',
    path: join(dir, 'flows.duckdb'),
    flushIntervalMs: 60_000,
  });
  for (let i = 0; i < 500; i++) store.append(flow(`h${i % 50}.example`, 1000 + i));
  const closed = store.close();
  const during = Array.from({ length: 20 }, () => store.releaseMemory?.());
  await closed;
  await expect(Promise.all(during)).resolves.toBeDefined();
  await expect(store.releaseMemory?.()).resolves.toBeUndefined();
  const again = await openFlowStore({
    kind: 'duckdb',
    path: join(dir, 'flows.duckdb'),
    flushIntervalMs: 60_000,
  });
  try {
    expect((await again.query({ limit: 0 })).total).toBe(500);
  } finally {
    await again.close();
  }
});

test('the JSONL store has nothing to release', async () => {
  const store = await openFlowStore({
    kind: 'jsonl',
    path: join(dir, 'flows.jsonl'),
    flushIntervalMs: 60_000,
  });
  try {
    expect(store.releaseMemory).toBeUndefined();
  } finally {
    await store.close();
  }
});

test('a release and a close begun right after it: one checkpoint at a time, and the database closed after them', async () => {
  // The quiet release's CHECKPOINT and close()'s run on the same connection; one still running when
  // close() frees the database can crash the process. Watched at the connection's prototype.
  const events: string[] = [];
  const run = DuckDBConnection.prototype.run;
  const closeSync = DuckDBConnection.prototype.closeSync;
  DuckDBConnection.prototype.run = async function (this: DuckDBConnection, sql: string, ...rest: unknown[]) {
    const checkpoint = sql.startsWith('CHECKPOINT');
    if (checkpoint) events.push('checkpoint');
    try {
      return await (run as (this: DuckDBConnection, ...args: unknown[]) => ReturnType<typeof run>).call(
        this,
        sql,
        ...rest,
      );
    } finally {
      if (checkpoint) events.push('checkpoint end');
    }
  } as typeof run;
  DuckDBConnection.prototype.closeSync = function (this: DuckDBConnection) {
    events.push('close');
    return closeSync.call(this);
  };
  try {
    const path = join(dir, 'flows.duckdb');
    const store = await openFlowStore({ kind: 'duckdb', path, flushIntervalMs: 60_000 });
    for (let i = 0; i < 3000; i++) store.append(flow(`h${i % 50}.example`, 1000 + i));
    await store.flush();
    const released = store.releaseMemory?.();
    const closed = store.close();
    await Promise.all([released, closed]);
    let open = 0;
    for (const event of events) {
      if (event === 'checkpoint') open++;
      if (event === 'checkpoint end') open--;
      expect(open, events.join(' | ')).toBeLessThanOrEqual(1);
      if (event === 'close') expect(open, events.join(' | ')).toBe(0);
    }
    expect(events.filter((event) => event === 'checkpoint').length).toBeGreaterThanOrEqual(1);
  } finally {
    DuckDBConnection.prototype.run = run;
    DuckDBConnection.prototype.closeSync = closeSync;
  }
});
