// After a fatal error the DuckDB store opens its database again and retries the failed batch plus
// what was appended since; the rows the reopened file already holds (a batch whose commit landed in
// the WAL before the error) must not be written twice, and none of the others may be dropped. The
// disk-full test reaches the reopen through a real checkpoint on a full disk, where DuckDB rolls the
// failed commit back, so every row is written again; this covers the rows the file already holds
// (and duckdb-rows.test.ts the same through the store, with a commit that lands and then fails).
import { expect, test } from 'vitest';
import { firstAfterId } from './duckdb.js';

const batch = [41, 42, 43, 44, 45];

test('rows the reopened database holds are skipped, the rest are kept in order', () => {
  // The failed batch (41-43) landed before the error; 44-45 were appended since.
  expect(batch.slice(firstAfterId(batch, 43))).toEqual([44, 45]);
  // The failed batch was rolled back: everything is written.
  expect(firstAfterId(batch, 40)).toBe(0);
  expect(firstAfterId(batch, 0)).toBe(0);
  // The file holds all of it: nothing to write.
  expect(firstAfterId(batch, 45)).toBe(5);
  expect(firstAfterId(batch, 1000)).toBe(5);
  expect(firstAfterId([], 7)).toBe(0);
});
