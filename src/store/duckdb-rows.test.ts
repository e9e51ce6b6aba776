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
  DuckDBConnection,
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
import { type FlowStoreOptions, openFlowStore } from './store.js';

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

test('the columns shrink back after a backlog while rows are still buffered', () => {
  // A write that stalled let 20,000 rows pile up; then the store keeps up again, a few dozen rows
  // buffered at a time, and never empties: the columns must not keep the backlog's size for good.
  const arena = new RowArena(sqlTypes);
  let next = 1;
  let oldest = 1;
  for (; next <= 20_000; next++) arena.append(recordOf(next), next, 'gw');
  const peak = arena.capacity;
  for (let round = 0; round < 2000; round++) {
    for (let row = 0; row < 40; row++, next++) arena.append(recordOf(next), next, 'gw');
    arena.remove(oldest, next - oldest - 10);
    oldest = next - 10;
  }
  expect(peak).toBeGreaterThanOrEqual(20_000);
  expect(arena.capacity).toBeLessThanOrEqual(1024);
  for (let offset = 0; offset < 10; offset++)
    expect(arena.rowAt(offset)).toEqual(
      asGiven(storedValuesOf(recordOf(oldest + offset), oldest + offset, 'gw')),
    );
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

test('records dropped behind a batch being written leave without moving the rows after them', () => {
  // A write that hangs while the proxy keeps appending at the bound: every append drops the oldest
  // buffered record, which sits right behind the batch. That must not copy every later row each time.
  const arena = new RowArena(sqlTypes);
  let next = 1;
  for (; next <= 3000; next++) arena.append(recordOf(next), next, 'gw');
  const inFlight = 1000; // ids 1-1000: the batch being written
  const moved = arena.moved;
  for (let drop = inFlight + 1; drop <= inFlight + 1500; drop++, next++) {
    arena.append(recordOf(next), next, 'gw');
    arena.remove(drop, 1);
  }
  expect(arena.moved - moved).toBeLessThan(3000);
  expect(arena.length).toBe(3000);
  // The batch is still the oldest rows, then the rows after the dropped ones, in order.
  expect(arena.idAt(inFlight - 1)).toBe(inFlight);
  expect(arena.idAt(inFlight)).toBe(inFlight + 1501);
  expect(arena.rowAt(inFlight)).toEqual(
    asGiven(storedValuesOf(recordOf(inFlight + 1501), inFlight + 1501, 'gw')),
  );
  expect(arena.rowAt(2999)).toEqual(asGiven(storedValuesOf(recordOf(next - 1), next - 1, 'gw')));
  // The batch written: the rest are the oldest rows, and a fill across what was dropped reads them.
  arena.remove(1, inFlight);
  expect(arena.idAt(0)).toBe(inFlight + 1501);
  expect(arena.rowAt(1999)).toEqual(asGiven(storedValuesOf(recordOf(next - 1), next - 1, 'gw')));
  // A batch put back (a failed write) and read whole across the dropped records.
  const again = new RowArena(sqlTypes);
  for (let id = 1; id <= 600; id++) again.append(recordOf(id), id, 'gw');
  for (let id = 201; id <= 300; id++) again.remove(id, 1); // behind a batch of ids 1-200
  const expected = [...Array(600).keys()]
    .map((i) => i + 1)
    .filter((id) => id <= 200 || id > 300)
    .map((id) => asGiven(storedValuesOf(recordOf(id), id, 'gw')));
  return filledAsConverted(again, expected, 0, 128);
});

test('a string table holds a bounded number of bytes, however long the distinct strings its rows had', () => {
  // A gateway under steady load never empties its buffer: the table taking new strings is always in
  // use. Distinct long strings (an error text per request) must not pile up in it until it has
  // maxStrings of them.
  const arena = new RowArena(sqlTypes);
  const long = (row: number) => `${row}:${'e'.repeat(8000)}`;
  let oldest = 1;
  for (let id = 1; id <= 20_000; id++) {
    arena.append({ ...recordOf(id), error: long(id) } as FlowRecord, id, 'gw');
    if (arena.length > 100) arena.remove(oldest++, 1);
  }
  expect(arena.length).toBe(100);
  expect(arena.stringBytes).toBeLessThan(8 * 1024 * 1024);
  expect(arena.rowAt(99)).toEqual(
    asGiven(storedValuesOf({ ...recordOf(20_000), error: long(20_000) } as FlowRecord, 20_000, 'gw')),
  );
});

test('rows match a plain list through random appends, removals from the oldest end and from the middle, and releases', () => {
  // A small generator with a fixed seed: the same steps on every run.
  let seed = 12_345;
  const random = (n: number) => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return Math.floor((seed / 2_147_483_648) * n);
  };
  const types = ['BIGINT', 'BIGINT', 'DOUBLE', 'INTEGER', 'VARCHAR', 'VARCHAR'] as const;
  const strings = ['', 'x\ud800y', '😀', 'a'.repeat(1400), 'é'.repeat(2000)];
  const bigints = [0, -1, -(2 ** 63), 2 ** 53, 2 ** 53 + 2, 2 ** 62, 2 ** 63 - 1024, null];
  const rowOf = (id: number): ColumnValue[] => [
    id,
    bigints[random(bigints.length)] ?? null,
    random(6) === 0 ? null : random(2) ? -0 : random(1e9) / 7,
    random(5) === 0 ? null : random(65_536) - 30_000,
    random(5) === 0 ? null : random(3) === 0 ? (strings[random(5)] as string) : `s${random(100_000)}-${id}`,
    random(4) === 0 ? null : `k${random(30)}`,
  ];
  for (let trial = 0; trial < 10; trial++) {
    const arena = new RowArena([...types]);
    let model: ColumnValue[][] = [];
    let next = 1;
    for (let step = 0; step < 2000; step++) {
      const op = random(10);
      if (op < 6) {
        for (let count = random(200); count > 0; count--) {
          const row = rowOf(next);
          next += 1 + random(2); // ids grow, with holes
          arena.appendValues(row);
          model.push(row);
        }
      } else if (op < 8 && model.length > 0) {
        const count = 1 + random(model.length);
        arena.remove(model[0]?.[0] as number, count);
        model = model.slice(count);
      } else if (op < 9 && model.length > 1) {
        const at = random(model.length);
        const count = 1 + random(model.length - at);
        arena.remove(model[at]?.[0] as number, count);
        model.splice(at, count);
      } else arena.release();
      expect(arena.length).toBe(model.length);
      if (step % 50 === 0)
        for (let i = 0; i < model.length; i += 1 + random(20))
          expect(arena.rowAt(i)).toEqual(asGiven(model[i] as ColumnValue[]));
    }
    for (let i = 0; i < model.length; i++) expect(arena.rowAt(i)).toEqual(asGiven(model[i] as ColumnValue[]));
  }
});

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pw-duckdb-rows-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/**
 * A DuckDB store in `dir` (gateway `gw-a`) whose dropped records are counted in `dropped`, and whose
 * batches wait for `gate` and then fail ("disk full") while `failing` is above 0, counting it down.
 */
async function storeWithFailures(options: FlowStoreOptions) {
  const dropped: number[] = [];
  const store = (await openFlowStore(
    { kind: 'duckdb', path: join(dir, 'flows.duckdb'), flushIntervalMs: 60_000 },
    {
      gateway: 'gw-a',
      log: { warn: () => undefined, error: () => undefined },
      ...options,
      observer: {
        storeWriteFailed: () => undefined,
        storeFlowsDropped: (count) => dropped.push(count),
        storeFlowsBuffered: () => undefined,
      },
    },
  )) as DuckDbFlowStore;
  const control = { dropped, failing: 0, gate: Promise.resolve() };
  const batches = store as unknown as { writeBatch(ids: readonly number[]): Promise<void> };
  const write = batches.writeBatch.bind(store);
  batches.writeBatch = async (ids) => {
    await control.gate;
    if (control.failing > 0) {
      control.failing--;
      throw new Error('disk full');
    }
    return write(ids);
  };
  return { store, control };
}

test('through the store: failed batches put back in front, records dropped beyond the bound while a batch is written, and every stored row is the record appended', async () => {
  const { store, control } = await storeWithFailures({ maxAttempts: 100, maxBuffered: 300 });
  const { dropped } = control;
  try {
    let appended = 0;
    const append = (count: number) => {
      for (let i = 0; i < count; i++) store.append(recordOf(appended++));
    };
    append(100); // ids 1-100
    await store.flush(); // written
    append(200); // ids 101-300
    control.failing = 2;
    await store.flush(); // fails: put back in front
    append(50); // ids 301-350
    await store.flush(); // fails again with the 50 behind it
    // A batch being written (ids 101-350) while 400 more are appended: the oldest 100 of those
    // (ids 351-450) are dropped beyond maxBuffered, behind the batch.
    let open: () => void = () => undefined;
    control.gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const writing = store.flush();
    await new Promise((resolve) => setImmediate(resolve));
    append(400); // ids 351-750
    open();
    await writing;
    control.gate = Promise.resolve();
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

test('through the store: a batch dropped after its attempts leaves the rows, and later records are stored', async () => {
  const { store, control } = await storeWithFailures({ maxAttempts: 2 });
  const { dropped } = control;
  control.failing = 2;
  try {
    for (let id = 1; id <= 20; id++) store.append(recordOf(id));
    await store.flush(); // fails
    await store.flush(); // fails again: out of attempts, dropped
    expect(dropped).toEqual([20]);
    for (let id = 21; id <= 30; id++) store.append(recordOf(id));
    const page = await store.query({ limit: 100 });
    expect(page.flows.map((flow) => flow.id).sort((a, b) => a - b)).toEqual(
      [...Array(10).keys()].map((i) => i + 21),
    );
    for (const flow of page.flows)
      expect(flow).toEqual(toStoredFlow(normalized(recordOf(flow.id)), flow.id, 'gw-a'));
  } finally {
    await store.close();
  }
});

test('through the store: a batch committed before the database was invalidated is not written again when retried with the records after it', async () => {
  // DuckDB invalidates the database when the checkpoint at a commit fails (a full disk): the commit's
  // rows are in the WAL, the batch is reported failed, and the retry (that batch and what was appended
  // since) must write only the rows after the file's highest id (#reopenedRest).
  const store = (await openFlowStore(
    { kind: 'duckdb', path: join(dir, 'flows.duckdb'), flushIntervalMs: 60_000 },
    { gateway: 'gw-a', log: { warn: () => undefined, error: () => undefined } },
  )) as DuckDbFlowStore;
  const run = DuckDBConnection.prototype.run;
  let invalidateNextCommit = false;
  DuckDBConnection.prototype.run = async function (this: DuckDBConnection, sql: string, ...rest: unknown[]) {
    const result = await (run as (...args: unknown[]) => Promise<unknown>).call(this, sql, ...rest);
    if (sql === 'COMMIT' && invalidateNextCommit) {
      invalidateNextCommit = false;
      throw new Error('FATAL Error: could not write the checkpoint (simulated after the commit)');
    }
    return result;
  } as typeof run;
  try {
    for (let id = 1; id <= 10; id++) store.append(recordOf(id));
    await store.flush();
    invalidateNextCommit = true;
    for (let id = 11; id <= 40; id++) store.append(recordOf(id));
    await store.flush(); // committed, then reported failed: put back in front
    for (let id = 41; id <= 55; id++) store.append(recordOf(id));
    const page = await store.query({ limit: 100 }); // the retry: ids 11-55, 11-40 already in the file
    expect(page.total).toBe(55);
    expect(page.flows.map((flow) => flow.id).sort((a, b) => a - b)).toEqual(
      [...Array(55).keys()].map((i) => i + 1),
    );
    for (const flow of page.flows)
      expect(flow).toEqual(toStoredFlow(normalized(recordOf(flow.id)), flow.id, 'gw-a'));
  } finally {
    DuckDBConnection.prototype.run = run;
    await store.close();
  }
});
