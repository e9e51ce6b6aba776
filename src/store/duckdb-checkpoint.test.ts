// The DuckDB store checkpoints itself when the rows since its last checkpoint fill a row group
// (duckdb.ts, #rowGroupFull): each checkpoint then writes one nearly full row group, and the rows a
// quiet checkpoint left in a row group not full yet are merged with the next ones into one.
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { emptyFlow, type FlowRecord } from '../flow/record.js';
import type { FlowStoreOptions } from './buffer.js';
import { CHECKPOINT_CEILING_BYTES, ceilingFor, type DuckDbFlowStore, ROW_GROUP_ROWS } from './duckdb.js';
import { openFlowStore } from './store.js';

// A reason as long as a real rule's (about 340 characters): about 600 bytes of WAL a row, as a
// gateway's rows take, so DuckDB's default 16 MB would checkpoint every ~27,000 rows.
const reason = `matches rule paas.rest-api: ${'the Power BI REST API and its regional clusters, '.repeat(6)}`;
const flow = (i: number): FlowRecord => ({
  ...emptyFlow({ kind: 'gateway' }),
  start: 1e12 + i,
  end: 1e12 + i + 5,
  host: `h${i % 50}.example`,
  port: 443,
  reason: `${reason}${i % 50}`,
});

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pw-duckdb-checkpoint-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** The size of the WAL beside the store file at `path` (0 when there is none). */
const walBytesOf = (path: string): number => (existsSync(`${path}.wal`) ? statSync(`${path}.wal`).size : 0);

/** A DuckDB store in the test's folder that writes only on flush() (its interval is a minute). */
async function openStore(options: FlowStoreOptions = {}): Promise<{ path: string; store: DuckDbFlowStore }> {
  const path = join(dir, 'flows.duckdb');
  const store = await openFlowStore({ kind: 'duckdb', path, flushIntervalMs: 60_000 }, options);
  return { path, store: store as DuckDbFlowStore };
}

/** The rows of each row group of `flows` in the closed file at `path`, in order. */
async function rowGroups(path: string): Promise<number[]> {
  const instance = await DuckDBInstance.create(path, { access_mode: 'READ_ONLY' });
  try {
    const connection = await instance.connect();
    const reader = await connection.runAndReadAll(
      `SELECT row_group_id, sum(count) FROM pragma_storage_info('flows')
       WHERE column_name = 'id' AND segment_type <> 'VALIDITY' GROUP BY ALL ORDER BY 1`,
    );
    connection.closeSync();
    return reader.getRows().map((row) => Number(row[1]));
  } finally {
    instance.closeSync();
  }
}

/** Appends `batches` batches of `size` rows, one flush each; returns the WAL's size after each. */
async function appendBatches(
  store: Awaited<ReturnType<typeof openFlowStore>>,
  path: string,
  first: number,
  batches: number,
  size: number,
): Promise<number[]> {
  const sizes: number[] = [];
  for (let batch = 0; batch < batches; batch++) {
    for (let i = 0; i < size; i++) store.append(flow(first + batch * size + i));
    await store.flush();
    sizes.push(walBytesOf(path));
  }
  return sizes;
}

test('the store checkpoints after the commit that fills a row group, before the next batch would spill', async () => {
  const { path, store } = await openStore();
  let wal: number[];
  try {
    // 5,000-row batches: after the 24th (120,000 rows) a 25th would not fit in the row group.
    wal = await appendBatches(store, path, 0, 30, 5000);
    expect((await store.query({ limit: 0 })).total).toBe(150_000);
  } finally {
    await store.close();
  }
  // The WAL grew up to the 24th batch, was folded after it, and holds the 6 batches since.
  const folded = wal.findIndex((size, i) => i > 0 && size < (wal[i - 1] as number));
  expect(folded).toBe(23);
  expect(wal[29] as number).toBeLessThan((wal[22] as number) / 3);
  // The row group of 120,000 counts as full: no checkpoint again until the next one fills.
  const after = wal.slice(23);
  expect(after.every((size, i) => i === 0 || size > (after[i - 1] as number))).toBe(true);
  expect(await rowGroups(path)).toEqual([120_000, 30_000]);
}, 120_000);

test('8,192-row batches fill whole row groups, and the rows a quiet checkpoint left are merged into the next one', async () => {
  const { path, store } = await openStore();
  try {
    await appendBatches(store, path, 0, 3, 8192);
    await store.releaseMemory?.(); // the quiet checkpoint: a row group of 24,576 rows on disk
    // 12 more batches fill it (24,576 + 98,304 = 122,880); the checkpoint after the 12th merges them.
    const wal = await appendBatches(store, path, 3 * 8192, 14, 8192);
    const folded = wal.findIndex((size, i) => i > 0 && size < (wal[i - 1] as number));
    expect(folded).toBe(11);
    expect(3 * 8192 + 12 * 8192).toBe(ROW_GROUP_ROWS);
  } finally {
    await store.close();
  }
  expect(await rowGroups(path)).toEqual([ROW_GROUP_ROWS, 2 * 8192]);
}, 120_000);

test('a batch larger than a row group is written whole, and the store checkpoints after it', async () => {
  const { path, store } = await openStore({ maxBuffered: 200_000 });
  try {
    const [afterLarge] = await appendBatches(store, path, 0, 1, ROW_GROUP_ROWS + 1000);
    // The checkpoint after it left nothing of it in the WAL; the next batch goes on.
    expect(afterLarge).toBeLessThan(1_000_000);
    await appendBatches(store, path, ROW_GROUP_ROWS + 1000, 1, 1000);
    expect((await store.query({ limit: 0 })).total).toBe(ROW_GROUP_ROWS + 2000);
  } finally {
    await store.close();
  }
  // The row group of the batch's last 1,000 rows and the next batch's merged at close.
  expect(await rowGroups(path)).toEqual([ROW_GROUP_ROWS, 2000]);
}, 120_000);

test("DuckDB's threshold: 128 MiB when a quarter of the WAL and the free space together holds it, DuckDB's default 16 MiB below", () => {
  const mib = 1 << 20;
  expect(ceilingFor(0)).toBe(16 * mib);
  // The session-11 review's 120 MB disk: DuckDB's default, as before the store's own checkpoint.
  expect(ceilingFor(110 * mib)).toBe(16 * mib);
  expect(ceilingFor(511 * mib)).toBe(16 * mib);
  expect(ceilingFor(512 * mib)).toBe(CHECKPOINT_CEILING_BYTES);
  expect(ceilingFor(100_000 * mib)).toBe(CHECKPOINT_CEILING_BYTES);
});

test("a checkpoint that meets the dashboard's rollup refresh is tried again at the next batch, without a warning", async () => {
  // The rollup refresh (duckdb-rollup.ts) is a write transaction on a connection of its own; a
  // CHECKPOINT while it runs fails with "there are other write transactions active". Nothing is
  // wrong: the store tries again before the next batch.
  const warnings: string[] = [];
  const log = {
    warn: (_fields: unknown, message: string) => warnings.push(message),
    error: () => {},
    info: () => {},
  };
  const { path, store } = await openStore({ log: log as never });
  // Exceptions to a host of their own, a minute apart: a group per row in the exceptions rollup, so
  // the refresh's write transaction lasts about a second.
  const exception = (i: number): FlowRecord => ({
    ...flow(i),
    verdict: 'exception',
    start: 1e12 + i * 60_000,
    host: `h${i}.example`,
  });
  const append = async (first: number, count: number) => {
    for (let i = first; i < first + count; i++) store.append(exception(i));
    await store.flush();
  };
  try {
    // 121,000 rows since the last checkpoint, none rolled up yet, the last batch too small to fill
    // the row group.
    for (let batch = 0; batch < 11; batch++) await append(batch * 10_000, 10_000);
    await append(110_000, 6000);
    for (let batch = 0; batch < 5; batch++) await append(116_000 + batch * 1000, 1000);
    // The refresh starts, and once it writes the next 1,000 rows fill the row group: the store
    // checkpoints after their commit, while the refresh runs.
    const stats = store.stats();
    await new Promise((resolve) => setTimeout(resolve, 200));
    await append(121_000, 1000);
    await stats;
    // The checkpoint met the refresh: the WAL holds the rows still, and the refresh's besides.
    expect(walBytesOf(path)).toBeGreaterThan(50_000_000);
    expect(warnings).toEqual([]);
    // Tried again before the next batch.
    await append(122_000, 10);
    expect(walBytesOf(path)).toBeLessThan(5_000_000);
    expect(warnings).toEqual([]);
    expect((await store.query({ limit: 0 })).total).toBe(122_010);
  } finally {
    await store.close();
  }
}, 180_000);

test('after a checkpoint that could not merge the rows into the last row group, the next one fills the row group they started', async () => {
  const { path, store } = await openStore({ maxBuffered: 200_000 });
  try {
    // 10 batches of 10,000: an 11th would still fit in the row group, so the store does not checkpoint.
    await appendBatches(store, path, 0, 10, 10_000);
    await store.releaseMemory?.(); // the quiet checkpoint: a row group of 100,000 rows on disk
    // 30,000 rows do not fit beside them: the store's checkpoint after them leaves [100000, 30000].
    await appendBatches(store, path, 100_000, 1, 30_000);
    // The row group of 30,000 fills: after 11 batches of 8,192 (120,112 rows) a 12th would not fit.
    const wal = await appendBatches(store, path, 130_000, 12, 8192);
    const folded = wal.findIndex((size, i) => i > 0 && size < (wal[i - 1] as number));
    expect(folded).toBe(10);
  } finally {
    await store.close();
  }
  expect(await rowGroups(path)).toEqual([100_000, 30_000 + 11 * 8192, 8192]);
}, 120_000);

test("on a disk with less than 512 MiB for the WAL the store checkpoints as DuckDB's default does, and not per row group", async () => {
  const { path, store } = await openStore();
  // A disk of 300 MiB free, as far as the store can tell.
  store.diskReading = () => ({
    free: 300 << 20,
    wal: walBytesOf(path),
  });
  await expectDuckDbDefaultCheckpoints(store, path);
}, 120_000);

// A disk whose room cannot be read (review, session 12): the store left DuckDB's threshold at
// 128 MiB, the session-11 behaviour that filled a small disk, without a word.
test("a disk whose room cannot be read gets DuckDB's default 16 MiB and one warning", async () => {
  const warnings: string[] = [];
  const log = { warn: (_: unknown, message: string) => warnings.push(message), error: () => undefined };
  const { path, store } = await openStore({ log });
  store.diskReading = () => {
    throw Object.assign(new Error('EIO: i/o error, statfs'), { code: 'EIO' });
  };
  await expectDuckDbDefaultCheckpoints(store, path);
  expect(warnings).toEqual(["could not read the disk's room or set DuckDB's checkpoint threshold for it"]);
}, 120_000);

/**
 * Appends 30 batches of 5,000 rows, closes the store and checks that the WAL was folded as at
 * DuckDB's 16 MiB (about 27,000 of these rows: every few batches, never near a row group's).
 */
async function expectDuckDbDefaultCheckpoints(store: DuckDbFlowStore, path: string): Promise<void> {
  let wal: number[];
  try {
    wal = await appendBatches(store, path, 0, 30, 5000);
  } finally {
    await store.close();
  }
  expect(wal.filter((size, i) => i > 0 && size < (wal[i - 1] as number)).length).toBeGreaterThan(2);
  expect(Math.max(...wal)).toBeLessThan(24_000_000);
}
