// RowArena holds the DuckDB store's buffered rows outside the V8 heap. What it hands DuckDB must be
// exactly the rows of storedValuesOf (what the store kept before): every column type, nulls, odd
// numbers and strings; rows leave in append order, records dropped beyond the bound while a batch is
// written leave from the middle, and the string tables stay bounded.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BIGINT,
  DOUBLE,
  DuckDBDataChunk,
  DuckDBInstance,
  type DuckDBType,
  INTEGER,
  JSToDuckDBValueConverter,
  VARCHAR,
} from '@duckdb/node-api';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { emptyFlow, type FlowRecord } from '../flow/record.js';
import { type ColumnValue, flowColumns, storedValuesOf, toStoredFlow } from './columns.js';
import type { DuckDbFlowStore } from './duckdb.js';
import { chunkCapacity, maxStrings, RowArena } from './duckdb-rows.js';
import { openFlowStore } from './store.js';

const duckTypes: Record<string, DuckDBType> = { BIGINT, INTEGER, DOUBLE, VARCHAR };
const types = flowColumns.map((column) => duckTypes[column.sqlType] as DuckDBType);
const sqlTypes = flowColumns.map((column) => column.sqlType);

/** A record with every field varied by `row`: nulls at various rows, edge numbers, odd strings. */
function recordOf(row: number): FlowRecord {
  return {
    ...emptyFlow({
      kind: row % 5 === 0 ? 'squid' : 'gateway',
      file: row % 3 === 0 ? 'access.log' : undefined,
      line: row % 3 === 0 ? row * 7 : undefined,
    }),
    start: row % 7 === 0 ? null : 1_796_550_811_484.5 + row,
    end: row % 11 === 0 ? null : row % 13 === 1 ? -0 : 1_796_550_811_490 + row,
    client: row % 4 === 0 ? null : `10.0.${row % 256}.${row % 7}`,
    host: ['api.powerbi.com', 'é.example', 'x\ud800y', '😀.example', ''][row % 5] as string,
    port: row % 13 === 0 ? null : row % 65_536,
    bytesUp: row % 17 === 0 ? null : row === 1 ? 2 ** 53 : row === 3 ? 2 ** 62 : row * 1_000_003,
    bytesDown: row === 2 ? -(2 ** 63) : row === 4 ? -(2 ** 53) : row === 5 ? -1 : row,
    reason:
      row % 9 === 0
        ? null
        : row % 250 === 7
          ? `${'a long reason, é 😀 '.repeat(150)}${row}` // longer than a slab's share
          : 'matches rule x (§ 2, "quoted"): must ride the circuit. It took it.',
    connectMs: row % 2 === 0 ? null : row / 3,
    // One distinct string per row: more than one string table's.
    connectionId: `gw-${row}`,
  } as FlowRecord;
}

/** The row DuckDB is given: a lone surrogate becomes U+FFFD in UTF-8 (as before the arena). */
const asGiven = (values: readonly ColumnValue[]): ColumnValue[] =>
  values.map((value) =>
    typeof value === 'string' ? new TextDecoder().decode(new TextEncoder().encode(value)) : value,
  );

test('rows read back with the values storedValuesOf gives, for every column type', () => {
  const arena = new RowArena(sqlTypes);
  const count = 700;
  for (let row = 0; row < count; row++) arena.append(recordOf(row), row + 1, row % 2 ? 'vm' : 'vm-2');
  expect(arena.length).toBe(count);
  for (let row = 0; row < count; row++) {
    const expected = asGiven(storedValuesOf(recordOf(row), row + 1, row % 2 ? 'vm' : 'vm-2'));
    const got = arena.rowAt(row);
    // BIGINT -0 is 0 in DuckDB; DOUBLE keeps -0 (Object.is compares it).
    expect(got.map((value, column) => (sqlTypes[column] === 'BIGINT' && value === 0 ? 0 : value))).toEqual(
      expected.map((value, column) => (sqlTypes[column] === 'BIGINT' && value === 0 ? 0 : value)),
    );
    expect(arena.idAt(row)).toBe(row + 1);
  }
  expect(Object.is(arena.rowAt(1)[flowColumns.findIndex((c) => c.name === 'end_ms')], -0)).toBe(true);
});

test('values given directly, at the edges of every type, read back exactly', () => {
  const arena = new RowArena(['BIGINT', 'BIGINT', 'DOUBLE', 'INTEGER', 'VARCHAR']);
  const rows: ColumnValue[][] = [
    [1, 2 ** 53, -0, 0, ''],
    [2, -(2 ** 63), Number.MAX_VALUE, 65_535, 'ünïcödé 😀'],
    [3, 2 ** 63 - 1024, Number.MIN_VALUE, -(2 ** 31), null],
    [4, null, null, null, 'a\u0000b'],
    [5, -1, -1.5, 2 ** 31 - 1, ''],
    // Longer than a slab's share: a buffer of its own.
    [6, 0, 0, 0, `${'é😀x'.repeat(700)}\ud800`],
    [7, 1, 1, 1, 'after the long one'],
  ];
  for (const row of rows) arena.appendValues(row);
  rows.forEach((row, index) => {
    expect(arena.rowAt(index)).toEqual(asGiven(row));
  });
  expect(Object.is(arena.rowAt(0)[2], -0)).toBe(true);
});

/**
 * Appends the arena's rows [offset, offset + count) to one table and the same values through the
 * node-api's own conversion to another, in slices of `slice` rows; returns the first table's rows
 * after checking that they equal the second's.
 */
async function filledAsConverted(
  arena: RowArena,
  expected: readonly ColumnValue[][],
  offset: number,
  slice: number,
): Promise<unknown[][]> {
  const instance = await DuckDBInstance.create(':memory:');
  try {
    const connection = await instance.connect();
    const columns = flowColumns.map((column) => `${column.name} ${column.sqlType}`).join(', ');
    await connection.run(`CREATE TABLE filled (${columns})`);
    await connection.run(`CREATE TABLE converted (${columns})`);
    const filled = await connection.createAppender('filled');
    const converted = await connection.createAppender('converted');
    const chunk = DuckDBDataChunk.create(types);
    for (let done = 0; done < expected.length; done += slice) {
      const count = Math.min(slice, expected.length - done);
      chunk.reset();
      chunk.rowCount = count;
      arena.fill(chunk.chunk, offset + done, count);
      filled.appendDataChunk(chunk);
      const reference = DuckDBDataChunk.create(types, count);
      const rows = expected.slice(done, done + count);
      reference.setColumnsConverted(
        flowColumns.map((_, column) => rows.map((row) => row[column] ?? null)),
        JSToDuckDBValueConverter,
      );
      converted.appendDataChunk(reference);
    }
    filled.closeSync();
    converted.closeSync();
    const read = async (table: string) =>
      (await connection.runAndReadAll(`SELECT * FROM ${table} ORDER BY id`)).getRows();
    const got = await read('filled');
    expect(got).toHaveLength(expected.length);
    expect(got).toEqual(await read('converted'));
    connection.closeSync();
    return got;
  } finally {
    instance.closeSync();
  }
}

test('rows filled into data chunks read back as those of the node-api conversion, after removals and growth', async () => {
  const arena = new RowArena(sqlTypes);
  const values = (row: number) => storedValuesOf(recordOf(row), row + 1, 'gw');
  // Rows 0..2999 appended, the oldest 1000 removed (written), then the 500 after the next 1000 (a
  // batch being written, then records dropped beyond the bound), then 3000 more appended: the
  // columns grow and move while rows leave from both places.
  for (let row = 0; row < 3000; row++) arena.append(recordOf(row), row + 1, 'gw');
  arena.remove(1, 1000);
  arena.remove(2001, 500);
  for (let row = 3000; row < 6000; row++) arena.append(recordOf(row), row + 1, 'gw');
  const kept = [...Array(6000).keys()].filter((row) => row >= 1000 && (row < 2000 || row >= 2500));
  expect(arena.length).toBe(kept.length);
  kept.forEach((row, index) => {
    if (index % 97 === 0) expect(arena.idAt(index)).toBe(row + 1);
  });
  const got = await filledAsConverted(arena, kept.map(values), 0, chunkCapacity);
  expect(got[0]?.[0]).toBe(1001n);
  // Slices of an odd size from an offset, as a retried batch after a reopen writes its rest.
  await filledAsConverted(arena, kept.slice(10).map(values), 10, 129);
});

test('a chunk of more rows than DuckDB holds, or rows the arena does not hold, is refused before anything is written', () => {
  const arena = new RowArena(sqlTypes);
  for (let row = 0; row <= chunkCapacity; row++) arena.append(recordOf(row), row + 1, 'gw');
  const chunk = DuckDBDataChunk.create(types);
  expect(() => arena.fill(chunk.chunk, 0, chunkCapacity + 1)).toThrow(RangeError);
  expect(() => arena.fill(chunk.chunk, 2, chunkCapacity)).toThrow(RangeError);
  expect(() => arena.fill(chunk.chunk, -1, 2)).toThrow(RangeError);
});

test('rows leave oldest first; the columns start small, double, and go back on release()', () => {
  const arena = new RowArena(sqlTypes);
  expect(arena.capacity).toBe(0);
  arena.append(recordOf(0), 1, 'gw');
  expect(arena.capacity).toBe(256);
  for (let row = 1; row < 1000; row++) arena.append(recordOf(row), row + 1, 'gw');
  expect(arena.capacity).toBe(1024);
  arena.remove(1, 600);
  expect(arena.idAt(0)).toBe(601);
  // Appends reuse the room the written rows left instead of doubling again.
  for (let row = 1000; row < 1600; row++) arena.append(recordOf(row), row + 1, 'gw');
  expect(arena.capacity).toBe(1024);
  expect(arena.rowAt(0)).toEqual(asGiven(storedValuesOf(recordOf(600), 601, 'gw')));
  expect(arena.rowAt(999)).toEqual(asGiven(storedValuesOf(recordOf(1599), 1600, 'gw')));
  arena.release(); // not empty: kept
  expect(arena.length).toBe(1000);
  arena.remove(601, 1000);
  expect(arena.length).toBe(0);
  expect(arena.strings).toBe(0);
  arena.release();
  expect(arena.capacity).toBe(0);
  arena.append(recordOf(5), 1601, 'gw');
  expect(arena.rowAt(0)).toEqual(asGiven(storedValuesOf(recordOf(5), 1601, 'gw')));
  expect(() => arena.remove(99, 1)).toThrow(RangeError);
});

test('the string tables keep only what buffered rows use, however many distinct strings pass', () => {
  const arena = new RowArena(sqlTypes);
  const distinctPerRow = 3; // client, connectionId and host below
  const record = (row: number): FlowRecord => ({
    ...recordOf(row),
    client: `c-${row}`,
    host: `h-${row}`,
    connectionId: `x-${row}`,
  });
  let next = 1;
  let oldest = 1;
  // 100,000 rows through, never more than 5,000 buffered (an audit's load).
  for (let round = 0; round < 20; round++) {
    for (let row = 0; row < 5000; row++, next++) arena.append(record(next), next, 'gw');
    // Writes remove all but the newest 1,000 (appended while the batch was written).
    arena.remove(oldest, next - oldest - 1000);
    oldest = next - 1000;
    expect(arena.strings).toBeLessThanOrEqual(1000 * distinctPerRow + 10 + 2 * maxStrings);
  }
  for (let offset = 0; offset < 1000; offset += 111)
    expect(arena.rowAt(offset)).toEqual(
      asGiven(storedValuesOf(record(oldest + offset), oldest + offset, 'gw')),
    );
});

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pw-duckdb-rows-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

test('through the store: failed batches put back in front, records dropped beyond the bound while a batch is written, and every stored row is the record appended', async () => {
  const dropped: number[] = [];
  const store = (await openFlowStore(
    { kind: 'duckdb', path: join(dir, 'flows.duckdb'), flushIntervalMs: 60_000 },
    {
      gateway: 'gw-a',
      maxAttempts: 100,
      maxBuffered: 300,
      observer: {
        storeWriteFailed: () => undefined,
        storeFlowsDropped: (count) => dropped.push(count),
        storeFlowsBuffered: () => undefined,
      },
    },
  )) as DuckDbFlowStore;
  const write = (store as unknown as { writeBatch(ids: readonly number[]): Promise<void> }).writeBatch.bind(
    store,
  );
  let failing = 0;
  let gate: Promise<void> = Promise.resolve();
  (store as unknown as { writeBatch(ids: readonly number[]): Promise<void> }).writeBatch = async (ids) => {
    await gate;
    if (failing > 0) {
      failing--;
      throw new Error('disk full');
    }
    return write(ids);
  };
  try {
    let appended = 0;
    const append = (count: number) => {
      for (let i = 0; i < count; i++) store.append(recordOf(appended++));
    };
    append(100); // ids 1-100
    await store.flush(); // written
    append(200); // ids 101-300
    failing = 2;
    await store.flush(); // fails: put back in front
    append(50); // ids 301-350
    await store.flush(); // fails again with the 50 behind it
    // A batch being written (ids 101-350) while 400 more are appended: the oldest 100 of those
    // (ids 351-450) are dropped beyond maxBuffered, behind the batch.
    let open: () => void = () => undefined;
    gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const writing = store.flush();
    await new Promise((resolve) => setImmediate(resolve));
    append(400); // ids 351-750
    open();
    await writing;
    gate = Promise.resolve();
    await store.flush(); // ids 451-750
    append(30); // ids 751-780
    const page = await store.query({ limit: 1000 });
    expect(dropped.reduce((sum, count) => sum + count, 0)).toBe(100);
    const expectedIds = [...Array(780).keys()].map((i) => i + 1).filter((id) => id <= 350 || id > 450);
    expect(page.total).toBe(expectedIds.length);
    const byId = new Map(page.flows.map((flow) => [flow.id, flow]));
    expect([...byId.keys()].sort((a, b) => a - b)).toEqual(expectedIds);
    for (const id of expectedIds)
      expect(byId.get(id), `id ${id}`).toEqual(toStoredFlow(normalized(recordOf(id - 1)), id, 'gw-a'));
  } finally {
    await store.close();
  }
});

/** A record as DuckDB returns it: a lone surrogate as U+FFFD, BIGINT -0 as 0. */
function normalized(flow: FlowRecord): FlowRecord {
  const copy = { ...flow } as Record<string, unknown>;
  for (const [key, value] of Object.entries(copy))
    if (typeof value === 'string') copy[key] = new TextDecoder().decode(new TextEncoder().encode(value));
  return copy as unknown as FlowRecord;
}
