// After a fatal error the DuckDB store opens its database again and retries the failed batch plus
// what was appended since; the rows the reopened file already holds (a batch whose commit landed in
// the WAL before the error) must not be written twice, and none of the others may be dropped. The
// disk-full test reaches the reopen through a real checkpoint on a full disk, where DuckDB rolls the
// failed commit back, so every row is written again; this covers the rows the file already holds.
import { expect, test } from 'vitest';
import { emptyFlow } from '../flow/record.js';
import { columnValuesOf } from './columns.js';
import { rowsAfterId } from './duckdb.js';

const batch = [41, 42, 43, 44, 45].map((id) => columnValuesOf({ ...emptyFlow({ kind: 'gateway' }), id }));
const idColumn = columnValuesOf({ ...emptyFlow({ kind: 'gateway' }), id: 987654 }).indexOf(987654);
const ids = (rows: ReturnType<typeof rowsAfterId>) => rows.map((row) => Number(row[idColumn]));

test('rows the reopened database holds are skipped, the rest are kept in order', () => {
  expect(idColumn).toBeGreaterThanOrEqual(0);
  // The failed batch (41-43) landed before the error; 44-45 were appended since.
  expect(ids(rowsAfterId(batch, 43))).toEqual([44, 45]);
  // The failed batch was rolled back: everything is written.
  expect(ids(rowsAfterId(batch, 40))).toEqual([41, 42, 43, 44, 45]);
  expect(ids(rowsAfterId(batch, 0))).toEqual([41, 42, 43, 44, 45]);
  // The file holds all of it: nothing to write.
  expect(rowsAfterId(batch, 45)).toEqual([]);
  expect(rowsAfterId(batch, 1000)).toEqual([]);
});
