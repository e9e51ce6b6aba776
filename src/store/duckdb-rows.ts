// The DuckDB store's buffered rows, off the V8 heap. A row per record as an array of 31 values lived
// on the V8 heap for up to the flush interval (1 s), so every scavenge in between copied it and then
// promoted it: 327 KB promoted per scavenge at 9,000 flows/s, 2.5-8 ms each, a quarter of the
// gateway's p99 at one connection (docs/performance.md, Gateway, "The DuckDB gateway at one
// connection, session 12" and "The DuckDB store's rows off the V8 heap, session 14"). Here a record's
// values go at append() into one typed array per column (their memory is outside the V8 heap, which
// a scavenge neither copies nor scans), and each VARCHAR value into an index of a string table that
// keeps each distinct string and its UTF-8 bytes once: a request's copy of a string seen before dies
// young, and a distinct one is kept until no buffered row uses its table (a table is bounded in
// strings and bytes).
//
// Rows leave in append order (written, or dropped from the oldest end), except records dropped beyond
// the buffer's bound while a batch is being written: they follow that batch, and are left as a gap
// behind it (remove()).
import duckdb from '@duckdb/node-bindings';
import type { FlowRecord } from '../flow/record.js';
import { type ColumnValue, type FlowColumn, ID_COLUMN, storedValueAt } from './columns.js';

/** DuckDB's vector size: the most rows one fill() writes into a data chunk. */
export const chunkCapacity = 2048;

/** Rows the columns hold at first and again after release(): about 70 KB for 31 columns. */
const initialRows = 256;

/**
 * Distinct strings in one string table. A full table is not cleared (rows still point into it): a
 * new one is started, and a table goes once no row in the arena points into it (an audit's load
 * holds many distinct strings; a gateway's batch repeats a few dozen).
 */
export const maxStrings = 4096;

/**
 * UTF-8 bytes of the strings of one string table. A gateway under steady load never empties its
 * buffer, so the table taking new strings is always in use; without this a distinct long string per
 * request (an error text) stayed until the table had maxStrings of them (8 KB each: 32 MB).
 */
export const maxTableBytes = 1_048_576;

/**
 * Bytes of one slab the string tables' UTF-8 is written into. One buffer per string (TextEncoder's
 * encode()) cost each string a backing store of its own outside the heap: an audit's load with
 * 200,000 distinct strings buffered peaked at about 140 MB more than main (docs/performance.md).
 */
const slabBytes = 16_384;

/** 2^32: a BIGINT is written as two 32-bit halves (no BigInt allocated per value). */
const twoTo32 = 4294967296;

interface StringTable {
  readonly index: Map<string, number>;
  /**
   * UTF-8 bytes of string i (the form DuckDB takes; a lone surrogate becomes U+FFFD, as before): a
   * view into one of the table's slabs, or a buffer of its own for a long string.
   */
  readonly bytes: Uint8Array[];
  /** The slab new strings are written into, and the bytes of it used. */
  slab: Uint8Array;
  used: number;
  /** UTF-8 bytes of all its strings. */
  held: number;
}

type SqlType = FlowColumn['sqlType'];

const newTable = (): StringTable => ({
  index: new Map(),
  bytes: [],
  slab: new Uint8Array(0),
  used: 0,
  held: 0,
});

export class RowArena {
  readonly #types: readonly SqlType[];
  readonly #encoder = new TextEncoder();
  readonly #decoder = new TextDecoder();
  /**
   * Per column: BIGINT as BigInt64Array (its bytes are what DuckDB takes, copied in at once), DOUBLE
   * as Float64Array, INTEGER as Int32Array, VARCHAR as Int32Array of string indexes (-1: null).
   */
  #values: (BigInt64Array | Float64Array | Int32Array)[] = [];
  /** A BIGINT column's values as 32-bit halves, little-endian (the same memory as #values). */
  #halves: (Int32Array | undefined)[] = [];
  /** Per column but VARCHAR: 1 where the value is null. */
  #nulls: (Uint8Array | undefined)[] = [];
  /** Per row: the number of the string table its VARCHAR indexes are in. */
  #generation = new Int32Array(0);
  #capacity = 0;
  /** The oldest row's position; rows are [#head, #tail), less the gap. */
  #head = 0;
  #tail = 0;
  /**
   * Rows [#gapStart, #gapEnd) are records dropped beyond the buffer's bound while a batch was being
   * written (they follow it): left in place rather than moving every later row once per dropped
   * record. The batch's removal steps over them; a read across them, or making room, closes the gap.
   * Empty when the two are equal.
   */
  #gapStart = 0;
  #gapEnd = 0;
  #moved = 0;
  /** String tables, oldest first; the last one takes new strings. */
  #tables: StringTable[] = [newTable()];
  /** The number of #tables[0]. */
  #firstTable = 0;
  /** A validity mask: bit r of byte r >> 3 (DuckDB's uint64 words, little-endian) set when row r is not null. */
  readonly #valid = new Uint8Array(chunkCapacity / 8);

  constructor(types: readonly SqlType[]) {
    this.#types = types;
  }

  /** Rows held. */
  get length(): number {
    return this.#tail - this.#head - (this.#gapEnd - this.#gapStart);
  }

  /** Distinct strings held in all string tables (tests read it). */
  get strings(): number {
    let count = 0;
    for (const table of this.#tables) count += table.bytes.length;
    return count;
  }

  /** UTF-8 bytes held by all string tables (tests read it). */
  get stringBytes(): number {
    let bytes = 0;
    for (const table of this.#tables) bytes += table.held;
    return bytes;
  }

  /** Rows copied within the columns to close up removed rows or make room (tests read it). */
  get moved(): number {
    return this.#moved;
  }

  /** Rows the columns have room for (tests read it). */
  get capacity(): number {
    return this.#capacity;
  }

  /** Appends the row of `flow` appended as number `id` (storedValuesOf's values). */
  append(flow: FlowRecord & { gateway?: unknown }, id: number, gateway?: string): void {
    const row = this.#startRow();
    for (let column = 0; column < this.#types.length; column++)
      this.#write(row, column, storedValueAt(flow, column, id, gateway));
    this.#endRow(row);
  }

  /** Appends a row of values in column order (a number in a VARCHAR column, or a string in another, is null). */
  appendValues(values: readonly ColumnValue[]): void {
    const row = this.#startRow();
    for (let column = 0; column < this.#types.length; column++)
      this.#write(row, column, values[column] ?? null);
    this.#endRow(row);
  }

  /** The id (first column) of the row `offset` rows after the oldest. */
  idAt(offset: number): number {
    return this.#bigintAt(ID_COLUMN, this.#position(offset));
  }

  /** The values of the row `offset` rows after the oldest, as DuckDB is given them (tests). */
  rowAt(offset: number): ColumnValue[] {
    if (offset < 0 || offset >= this.length) throw new RangeError(`no row ${offset}`);
    const row = this.#position(offset);
    return this.#types.map((type, column) => {
      if (type === 'VARCHAR') {
        const index = (this.#values[column] as Int32Array)[row] as number;
        return index < 0 ? null : this.#decoder.decode(this.#bytesOf(row, index));
      }
      if ((this.#nulls[column] as Uint8Array)[row] === 1) return null;
      return type === 'BIGINT'
        ? this.#bigintAt(column, row)
        : ((this.#values[column] as Float64Array)[row] as number);
    });
  }

  /**
   * Removes `count` rows from the row whose id is `firstId` on: the oldest ones, or records dropped
   * beyond the buffer's bound, which follow a batch being written.
   */
  remove(firstId: number, count: number): void {
    if (count <= 0) return;
    const start = this.#find(firstId);
    const gap = this.#gapEnd - this.#gapStart;
    if (start === this.#head) {
      let end = start + count;
      if (gap > 0 && end >= this.#gapStart) {
        end += gap;
        this.#gapStart = this.#gapEnd = 0;
      }
      this.#head = Math.min(this.#tail, end);
    } else if (gap === 0 || start === this.#gapEnd) {
      // Records dropped behind a batch being written, one per append while its write lasts: widen
      // the gap behind the batch instead of moving the rows after them each time.
      if (gap === 0) this.#gapStart = start;
      this.#gapEnd = Math.min(this.#tail, start + count);
      if (this.#gapEnd === this.#tail) {
        this.#tail = this.#gapStart;
        this.#gapStart = this.#gapEnd = 0;
      }
    } else {
      this.#closeGap();
      const at = this.#find(firstId);
      const end = Math.min(this.#tail, at + count);
      this.#move(end, this.#tail, at);
      this.#tail -= end - at;
    }
    this.#forgetTables();
  }

  /** Gives the columns' memory back to the first size and starts a new string table; only when empty. */
  release(): void {
    if (this.length > 0) return;
    this.#head = 0;
    this.#tail = 0;
    this.#gapStart = this.#gapEnd = 0;
    this.#allocate(0);
    this.#firstTable += this.#tables.length;
    this.#tables = [newTable()];
  }

  /**
   * Writes rows `offset` to `offset + count - 1` (after the oldest) into `chunk` (created with these
   * column types, its size set to `count`). Numbers are copied in a column at a time; each string's
   * UTF-8 bytes were made once, when it was first appended.
   */
  fill(chunk: duckdb.DataChunk, offset: number, count: number): void {
    if (count > chunkCapacity) throw new RangeError(`a data chunk holds at most ${chunkCapacity} rows`);
    if (offset < 0 || offset + count > this.length) throw new RangeError('rows outside the arena');
    let start = this.#position(offset);
    if (start < this.#gapStart && start + count > this.#gapStart) {
      // A batch put back in front (a failed write) with the rows after the gap: read as one run.
      this.#closeGap();
      start = this.#head + offset;
    }
    const valid = this.#valid;
    for (let column = 0; column < this.#types.length; column++) {
      const vector = duckdb.data_chunk_get_vector(chunk, column);
      let nulls = false;
      valid.fill(0xff);
      if (this.#types[column] === 'VARCHAR') {
        const indexes = this.#values[column] as Int32Array;
        for (let row = 0; row < count; row++) {
          const index = indexes[start + row] as number;
          if (index < 0) {
            nulls = true;
            valid[row >> 3] = (valid[row >> 3] as number) & ~(1 << (row & 7));
          } else duckdb.vector_assign_string_element_len(vector, row, this.#bytesOf(start + row, index));
        }
      } else {
        const values = this.#values[column] as Float64Array;
        const flags = this.#nulls[column] as Uint8Array;
        for (let row = 0; row < count; row++) {
          if (flags[start + row] === 1) {
            nulls = true;
            valid[row >> 3] = (valid[row >> 3] as number) & ~(1 << (row & 7));
          }
        }
        duckdb.copy_data_to_vector(
          vector,
          0,
          values.buffer as ArrayBuffer,
          start * values.BYTES_PER_ELEMENT,
          count * values.BYTES_PER_ELEMENT,
        );
      }
      if (nulls) {
        duckdb.vector_ensure_validity_writable(vector);
        duckdb.copy_data_to_vector_validity(vector, 0, valid.buffer, 0, Math.ceil(count / 64) * 8);
      }
    }
  }

  /** The position of a new row (room made), its string table started when the last is nearly full. */
  #startRow(): number {
    if (this.#tail === this.#capacity) this.#makeRoom();
    // Every string of a row goes into one table: a new one when this row might not fit.
    const table = this.#tables.at(-1) as StringTable;
    if (table.bytes.length > maxStrings - this.#types.length || table.held >= maxTableBytes)
      this.#tables.push(newTable());
    return this.#tail;
  }

  /** Counts the row written at `row` (last: a row whose writing threw is not there). */
  #endRow(row: number): void {
    this.#generation[row] = this.#firstTable + this.#tables.length - 1;
    this.#tail = row + 1;
  }

  #write(row: number, column: number, value: ColumnValue): void {
    const type = this.#types[column];
    if (type === 'VARCHAR') {
      (this.#values[column] as Int32Array)[row] = typeof value === 'string' ? this.#intern(value) : -1;
      return;
    }
    const nulls = this.#nulls[column] as Uint8Array;
    if (typeof value !== 'number') {
      nulls[row] = 1;
      if (type === 'BIGINT') {
        const halves = this.#halves[column] as Int32Array;
        halves[2 * row] = 0;
        halves[2 * row + 1] = 0;
      } else (this.#values[column] as Float64Array | Int32Array)[row] = 0;
      return;
    }
    nulls[row] = 0;
    if (type === 'BIGINT') {
      // An integer within Int64's range (columns.ts int64()): both halves exact.
      const high = Math.floor(value / twoTo32);
      const halves = this.#halves[column] as Int32Array;
      halves[2 * row] = value - high * twoTo32;
      halves[2 * row + 1] = high;
    } else (this.#values[column] as Float64Array | Int32Array)[row] = value;
  }

  #intern(value: string): number {
    const table = this.#tables.at(-1) as StringTable;
    let index = table.index.get(value);
    if (index === undefined) {
      index = table.bytes.length;
      const bytes = this.#utf8(table, value);
      table.bytes.push(bytes);
      table.held += bytes.length;
      table.index.set(value, index);
    }
    return index;
  }

  /** `value` in UTF-8, written into the table's slab (a new one when it might not fit). */
  #utf8(table: StringTable, value: string): Uint8Array {
    // At most 3 bytes per UTF-16 unit (a surrogate pair's 4 bytes are two units).
    const most = value.length * 3;
    if (most > slabBytes / 4) return this.#encoder.encode(value);
    if (table.slab.length - table.used < most) {
      table.slab = new Uint8Array(slabBytes);
      table.used = 0;
    }
    const { written } = this.#encoder.encodeInto(value, table.slab.subarray(table.used));
    const bytes = table.slab.subarray(table.used, table.used + written);
    table.used += written;
    return bytes;
  }

  #bytesOf(row: number, index: number): Uint8Array {
    const table = this.#tables[(this.#generation[row] as number) - this.#firstTable] as StringTable;
    return table.bytes[index] as Uint8Array;
  }

  #bigintAt(column: number, row: number): number {
    const halves = this.#halves[column] as Int32Array;
    return (halves[2 * row + 1] as number) * twoTo32 + ((halves[2 * row] as number) >>> 0);
  }

  /** The position of the row with id `id` (ids grow with position). */
  #find(id: number): number {
    let low = this.#head;
    let high = this.#tail;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.#bigintAt(ID_COLUMN, middle) < id) low = middle + 1;
      else high = middle;
    }
    if (low === this.#tail || this.#bigintAt(ID_COLUMN, low) !== id)
      throw new RangeError(`no buffered row with id ${id}`);
    return low;
  }

  /** The position of the row `offset` rows after the oldest (beyond the gap when past its start). */
  #position(offset: number): number {
    const position = this.#head + offset;
    return position >= this.#gapStart && this.#gapEnd > this.#gapStart
      ? position + this.#gapEnd - this.#gapStart
      : position;
  }

  /** Moves the rows after the gap into it. */
  #closeGap(): void {
    if (this.#gapEnd === this.#gapStart) return;
    this.#move(this.#gapEnd, this.#tail, this.#gapStart);
    this.#tail -= this.#gapEnd - this.#gapStart;
    this.#gapStart = this.#gapEnd = 0;
  }

  /** Drops string tables no row points into any more (all but the newest when the arena is empty). */
  #forgetTables(): void {
    if (this.#head === this.#tail) {
      this.#head = 0;
      this.#tail = 0;
      this.#gapStart = this.#gapEnd = 0;
      this.#firstTable += this.#tables.length;
      this.#tables = [newTable()];
      return;
    }
    const oldest = this.#generation[this.#head] as number;
    if (oldest > this.#firstTable) {
      this.#tables = this.#tables.slice(oldest - this.#firstTable);
      this.#firstTable = oldest;
    }
  }

  /**
   * At the end of the columns: halves them when at most a quarter full (after a backlog, while rows
   * are still buffered: an empty arena gives them back at release()), moves the rows to the start
   * when at most half full, or doubles them.
   */
  #makeRoom(): void {
    this.#closeGap();
    const rows = this.length;
    if (this.#capacity > initialRows && rows <= this.#capacity / 4) {
      this.#allocate(this.#capacity / 2);
    } else if (this.#capacity > 0 && rows <= this.#capacity / 2) {
      this.#move(this.#head, this.#tail, 0);
    } else {
      this.#allocate(Math.max(initialRows, this.#capacity * 2));
    }
    this.#head = 0;
    this.#tail = rows;
  }

  /** New columns of `capacity` rows (at least initialRows once a row is appended) holding the rows. */
  #allocate(capacity: number): void {
    const values: (BigInt64Array | Float64Array | Int32Array)[] = [];
    const halves: (Int32Array | undefined)[] = [];
    const nulls: (Uint8Array | undefined)[] = [];
    const from = this.#head;
    const to = this.#tail;
    this.#types.forEach((type, column) => {
      const old = this.#values[column];
      const fresh =
        type === 'BIGINT'
          ? new BigInt64Array(capacity)
          : type === 'DOUBLE'
            ? new Float64Array(capacity)
            : new Int32Array(capacity);
      if (old !== undefined && to > from)
        (fresh as Float64Array).set((old as Float64Array).subarray(from, to));
      values.push(fresh);
      halves.push(type === 'BIGINT' ? new Int32Array(fresh.buffer) : undefined);
      let flags: Uint8Array | undefined;
      if (type !== 'VARCHAR') {
        flags = new Uint8Array(capacity);
        const oldFlags = this.#nulls[column];
        if (oldFlags !== undefined && to > from) flags.set(oldFlags.subarray(from, to));
      }
      nulls.push(flags);
    });
    const generation = new Int32Array(capacity);
    if (to > from) generation.set(this.#generation.subarray(from, to));
    this.#values = values;
    this.#halves = halves;
    this.#nulls = nulls;
    this.#generation = generation;
    this.#capacity = capacity;
  }

  /** Copies rows [from, to) to position `target` (before `from`) in every column. */
  #move(from: number, to: number, target: number): void {
    this.#moved += to - from;
    for (let column = 0; column < this.#types.length; column++) {
      this.#values[column]?.copyWithin(target, from, to);
      this.#nulls[column]?.copyWithin(target, from, to);
    }
    this.#generation.copyWithin(target, from, to);
  }
}
