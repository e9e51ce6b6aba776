// FlowKeyTable: names with numbers and addresses with numbers to rows, under hash collisions, growth
// and a full table, against a Map of the same keys.
import { describe, expect, test } from 'vitest';
import { fnv1a } from '../ingest/flow-facts.js';
import { FlowKeyTable, MAX_NAME_BYTES, namePoolBytes } from './key-table.js';

const bytes = (text: string) => Buffer.from(text, 'latin1');

/** Adds a name the way the counter does: find, hold, add. */
function addName(table: FlowKeyTable, name: string, number: number, row: number, hash?: number): void {
  const b = bytes(` ${name} `); // the name inside a line, not at offset 0
  const h = hash ?? fnv1a(b, 1, b.length - 1);
  expect(table.findName(b, 1, b.length - 1, h, number)).toBe(-1);
  expect(table.holdName(b, 1, b.length - 1)).toBe(true);
  table.addPending(name.length, h, number, row);
}

const findName = (table: FlowKeyTable, name: string, number: number, hash?: number): number => {
  const b = bytes(`x${name}y`);
  return table.findName(b, 1, b.length - 1, hash ?? fnv1a(b, 1, b.length - 1), number);
};

describe('FlowKeyTable', () => {
  test('finds names by their bytes and number, and addresses by value and number', () => {
    const table = new FlowKeyTable();
    addName(table, 'api.powerbi.com', 444, 0);
    addName(table, 'api.powerbi.com', 81, 1);
    table.addAddress(0x0a090001, 444, 2);
    addName(table, 'app.powerbi.com', 444, 3);
    expect(findName(table, 'api.powerbi.com', 444)).toBe(0);
    expect(findName(table, 'api.powerbi.com', 81)).toBe(1);
    expect(findName(table, 'app.powerbi.com', 444)).toBe(3);
    expect(findName(table, 'api.powerbi.co', 444)).toBe(-1);
    expect(findName(table, 'api.powerbi.comm', 444)).toBe(-1);
    expect(findName(table, 'api.powerbi.com', 82)).toBe(-1);
    expect(table.findAddress(0x0a090001, 444)).toBe(2);
    expect(table.findAddress(0x0a090001, 445)).toBe(-1);
    expect(table.findAddress(0x0a090002, 444)).toBe(-1);
    expect(table.count).toBe(4);
  });

  test('an address and a name whose hash equals its value stay apart', () => {
    const table = new FlowKeyTable();
    table.addAddress(12345, 7, 0);
    addName(table, 'a', 7, 1, 12345);
    expect(table.findAddress(12345, 7)).toBe(0);
    expect(findName(table, 'a', 7, 12345)).toBe(1);
    // The empty name with the same hash and number: its length differs from the address entry's.
    expect(table.findName(bytes('xy'), 1, 1, 12345, 7)).toBe(-1);
  });

  test('names that share one hash are told apart by their bytes (collisions, then growth)', () => {
    const table = new FlowKeyTable();
    const names = Array.from({ length: 3000 }, (_, i) => `host${i}.example`);
    // Every name gets the same hash: one long probe sequence, through two growths of the table.
    names.forEach((name, row) => {
      addName(table, name, 444, row, 0x1234);
    });
    expect(table.places).toBeGreaterThanOrEqual(2 * names.length);
    names.forEach((name, row) => {
      expect(findName(table, name, 444, 0x1234)).toBe(row);
    });
    expect(findName(table, 'host3000.example', 444, 0x1234)).toBe(-1);
    // Same length, same hash, one byte off at the end and at the start.
    expect(findName(table, 'host1.exampld', 444, 0x1234)).toBe(-1);
    expect(findName(table, 'gost1.example', 444, 0x1234)).toBe(-1);
  });

  test('after growth, every key is found with its own hash, names and addresses alike', () => {
    const table = new FlowKeyTable();
    const expected = new Map<string, number>();
    for (let i = 0; i < 20_000; i++) {
      if (i % 3 === 0) {
        table.addAddress(i * 7919, i % 5, i);
        expected.set(`a${i * 7919}/${i % 5}`, i);
      } else {
        addName(table, `n${i}.cdn.example.net`, i % 5, i);
        expected.set(`n${i}.cdn.example.net/${i % 5}`, i);
      }
    }
    expect(table.count).toBe(20_000);
    for (const [key, row] of expected) {
      const [name, number] = key.split('/') as [string, string];
      if (name.startsWith('a')) expect(table.findAddress(Number(name.slice(1)), Number(number))).toBe(row);
      else expect(findName(table, name, Number(number))).toBe(row);
    }
  });

  test('full at its key limit and before its byte limit; clear() starts over', () => {
    const keys = new FlowKeyTable(10);
    for (let row = 0; row < 10; row++) {
      expect(keys.full).toBe(false);
      addName(keys, `h${row}`, 1, row);
    }
    expect(keys.full).toBe(true);
    keys.clear();
    expect(keys.full).toBe(false);
    expect(keys.count).toBe(0);
    expect(findName(keys, 'h1', 1)).toBe(-1);
    addName(keys, 'h1', 1, 0);
    expect(findName(keys, 'h1', 1)).toBe(0);

    // Byte limit: full as soon as a longest name might not fit; a hold past the limit fails.
    const pool = new FlowKeyTable(1 << 15, MAX_NAME_BYTES + 100);
    const name = 'x'.repeat(60);
    addName(pool, name, 1, 0);
    expect(pool.full).toBe(false);
    addName(pool, `${name.slice(1)}y`, 1, 1);
    expect(pool.full).toBe(true);
    const long = bytes('y'.repeat(MAX_NAME_BYTES));
    expect(pool.holdName(long, 0, long.length)).toBe(false);
    expect(findName(pool, name, 1)).toBe(0);
  });

  test('a name longer than MAX_NAME_BYTES is not held, and the pool grows past its first size', () => {
    const table = new FlowKeyTable();
    const long = bytes('z'.repeat(MAX_NAME_BYTES + 1));
    expect(table.holdName(long, 0, long.length)).toBe(false);
    // A name of 3 * 1024 - 1 bytes: its length, shifted beside the number, wraps to the 1023 of a
    // kept name with the same hash and number, and the pool holds 3,071 equal bytes from there.
    const kept = 'k'.repeat(MAX_NAME_BYTES);
    addName(table, kept, 3, 0, 77);
    addName(table, kept, 4, 1, 77);
    addName(table, kept, 5, 2, 77);
    addName(table, 'kk', 6, 3, 77);
    const wrapped = bytes('k'.repeat(3 * 1024 - 1));
    expect(table.findName(wrapped, 0, wrapped.length, 77, 3)).toBe(-1);
    expect(findName(table, kept, 3, 77)).toBe(0);
    // 40,000 bytes of names: past the first 16 KiB pool, twice.
    for (let row = 0; row < 1000; row++)
      addName(table, `${String(row).padStart(4, '0')}${'w'.repeat(36)}`, 2, row);
    for (let row = 0; row < 1000; row++)
      expect(findName(table, `${String(row).padStart(4, '0')}${'w'.repeat(36)}`, 2)).toBe(row);
  });

  test('a table of a few keys, its pool sized by namePoolBytes, learns that many keys', () => {
    for (const limit of [1, 7, 15, 16, 600]) {
      const table = new FlowKeyTable(limit, namePoolBytes(limit));
      expect(table.full).toBe(false);
      for (let k = 0; k < limit; k++) {
        expect(table.full).toBe(false);
        addName(table, `host-${k}.example.com`, 443, k);
      }
      expect(table.full).toBe(true);
      expect(findName(table, `host-${limit - 1}.example.com`, 443)).toBe(limit - 1);
    }
  });
});
