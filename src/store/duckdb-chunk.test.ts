// ChunkFiller writes flow rows into a DuckDB data chunk through the C API; the rows DuckDB then holds
// must equal those of @duckdb/node-api's own conversion (`setColumnsConverted`), which the store used
// before, for every column type, nulls in any place, repeated and non-ASCII strings, more distinct
// strings than the filler keeps, and full chunks.
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
import { expect, test } from 'vitest';
import { emptyFlow } from '../flow/record.js';
import { type ColumnValue, columnValuesOf, flowColumns } from './columns.js';
import { ChunkFiller, chunkCapacity } from './duckdb-chunk.js';

const duckTypes: Record<string, DuckDBType> = { BIGINT, INTEGER, DOUBLE, VARCHAR };
const types = flowColumns.map((column) => duckTypes[column.sqlType] as DuckDBType);

/** Rows with every column's value varied by row: nulls at various rows, edge numbers, odd strings. */
function rowsOf(count: number): ColumnValue[][] {
  const rows: ColumnValue[][] = [];
  for (let row = 0; row < count; row++) {
    const values = columnValuesOf({
      ...emptyFlow({
        kind: row % 5 === 0 ? 'squid' : 'gateway',
        file: row % 3 === 0 ? 'access.log' : undefined,
      }),
      id: row + 1,
      start: row % 7 === 0 ? null : 1_796_550_811_484.5 + row,
      end: row % 11 === 0 ? null : 1_796_550_811_490 + row,
      client: row % 4 === 0 ? null : `10.0.${row % 256}.${row % 7}`,
      host: ['api.powerbi.com', 'é.example', 'x\ud800y', '😀.example', ''][row % 5] as string,
      port: row % 13 === 0 ? null : row % 65_536,
      bytesUp: row % 17 === 0 ? null : row === 1 ? 2 ** 62 : row * 1_000_003,
      bytesDown: row === 2 ? -(2 ** 63) : row,
      reason: row % 9 === 0 ? null : 'matches rule x (§ 2, "quoted"): must ride the circuit. It took it.',
      connectMs: row % 2 === 0 ? null : row / 3,
      gateway: row % 2 === 0 ? 'vm' : 'vm-2',
      // One distinct string per row: past the filler's 4,096 kept strings, its cache starts over.
      connectionId: `gw-${row}`,
    } as Parameters<typeof columnValuesOf>[0]);
    rows.push(values);
  }
  return rows;
}

/**
 * Appends `rows` to one table through ChunkFiller, in slices of `sizes` (in turn) into the chunk
 * `chunkFor` gives, and to another through the node-api's own conversion; returns the first table's
 * rows after checking that they equal the second's.
 */
async function filledAsConverted(
  rows: ColumnValue[][],
  sizes: readonly number[],
  chunkFor: (count: number) => DuckDBDataChunk,
): Promise<unknown[][]> {
  const instance = await DuckDBInstance.create(':memory:');
  try {
    const connection = await instance.connect();
    const columns = flowColumns.map((column) => `${column.name} ${column.sqlType}`).join(', ');
    await connection.run(`CREATE TABLE filled (${columns})`);
    await connection.run(`CREATE TABLE converted (${columns})`);
    const filler = new ChunkFiller(flowColumns.map((column) => column.sqlType));
    const filled = await connection.createAppender('filled');
    const converted = await connection.createAppender('converted');
    let offset = 0;
    for (let slice = 0; offset < rows.length; slice++) {
      const count = Math.min(sizes[slice % sizes.length] as number, rows.length - offset);
      const chunk = chunkFor(count);
      filler.fill(chunk.chunk, rows, offset, count);
      filled.appendDataChunk(chunk);
      const reference = DuckDBDataChunk.create(types, count);
      reference.setColumnsConverted(
        flowColumns.map((_, column) => rows.slice(offset, offset + count).map((row) => row[column] ?? null)),
        JSToDuckDBValueConverter,
      );
      converted.appendDataChunk(reference);
      offset += count;
    }
    filler.forget();
    filled.closeSync();
    converted.closeSync();
    const read = async (table: string) =>
      (await connection.runAndReadAll(`SELECT * FROM ${table} ORDER BY id`)).getRows();
    const got = await read('filled');
    expect(got).toHaveLength(rows.length);
    expect(got).toEqual(await read('converted'));
    connection.closeSync();
    return got;
  } finally {
    instance.closeSync();
  }
}

test('rows written by ChunkFiller read back as those of the node-api conversion', async () => {
  const got = await filledAsConverted(rowsOf(2 * chunkCapacity + 300), [chunkCapacity], (count) =>
    DuckDBDataChunk.create(types, count),
  );
  // Spot checks against the input itself: nulls, the int64 edges, a non-ASCII string.
  expect(got[1]?.[flowColumns.findIndex((column) => column.name === 'bytes_up')]).toBe(2n ** 62n);
  expect(got[2]?.[flowColumns.findIndex((column) => column.name === 'bytes_down')]).toBe(-(2n ** 63n));
  expect(got[0]?.[flowColumns.findIndex((column) => column.name === 'start_ms')]).toBeNull();
  expect(got[3]?.[flowColumns.findIndex((column) => column.name === 'host')]).toBe('😀.example');
  expect(got[2]?.[flowColumns.findIndex((column) => column.name === 'host')]).toBe('x\ufffdy');
});

test('a chunk of more rows than DuckDB holds is refused before anything is written', () => {
  const filler = new ChunkFiller(['BIGINT']);
  const chunk = DuckDBDataChunk.create([BIGINT], 1);
  expect(() => filler.fill(chunk.chunk, [], 0, chunkCapacity + 1)).toThrow(RangeError);
});

test('one chunk reset and refilled for every slice, as the store does, reads back as the node-api conversion', async () => {
  const chunk = DuckDBDataChunk.create(types);
  // Row 0 has nulls in many columns and rows 1-3 in none of those: a validity mask or a string left
  // from the previous slice would show in the next one. Then full, odd and one-row slices.
  const got = await filledAsConverted(
    rowsOf(chunkCapacity + 700),
    [1, 3, 128, chunkCapacity, 37, 1, 200],
    (count) => {
      chunk.reset();
      chunk.rowCount = count;
      return chunk;
    },
  );
  expect(got[0]?.[flowColumns.findIndex((column) => column.name === 'start_ms')]).toBeNull();
  expect(got[1]?.[flowColumns.findIndex((column) => column.name === 'start_ms')]).not.toBeNull();
});
