// Fills a DuckDB data chunk with flow rows for the Appender, column by column, through DuckDB's C
// API (@duckdb/node-bindings, the layer under @duckdb/node-api). The node-api's generic path
// (`setColumnsConverted`) converts every value through a converter function, keeps each vector's
// validity as BigInt words (a few BigInts allocated per value) and hands every string to DuckDB as a
// JS string, encoded to UTF-8 again for every row; a flow row carries the same long `reason` and a
// dozen other repeated strings. Here numbers go into one typed array per column and are copied in
// at once, nulls into one byte mask, and each distinct string of a batch is encoded once
// (docs/performance.md, Gateway, "Gateway per request, session 7").
// The DuckDB store now fills its chunks from its buffered rows' columns (duckdb-rows.ts, which
// keeps each string's UTF-8 bytes from append() on); this filler of rows of values is no longer on
// the store's path.
import duckdb from '@duckdb/node-bindings';
import type { ColumnValue, FlowColumn } from './columns.js';

/** DuckDB's vector size: the most rows a data chunk holds. */
export const chunkCapacity = 2048;

/** The most distinct strings kept (a gateway's batch repeats a few dozen). */
const maxStrings = 4096;

type NumberArray = Float64Array | Int32Array | BigInt64Array;

export class ChunkFiller {
  readonly #types: readonly FlowColumn['sqlType'][];
  readonly #doubles = new Float64Array(chunkCapacity);
  readonly #integers = new Int32Array(chunkCapacity);
  readonly #bigints = new BigInt64Array(chunkCapacity);
  /** A validity mask: bit r of byte r >> 3 (DuckDB's uint64 words, little-endian) set when row r is not null. */
  readonly #valid = new Uint8Array(chunkCapacity / 8);
  readonly #encoder = new TextEncoder();
  /** Each distinct string's UTF-8 bytes, for one batch (`forget` empties it), at most `maxStrings`. */
  #strings = new Map<string, Uint8Array>();

  constructor(types: readonly FlowColumn['sqlType'][]) {
    this.#types = types;
  }

  /** Drops the strings kept for the batch that ended. */
  forget(): void {
    this.#strings = new Map();
  }

  /**
   * Writes rows `offset` to `offset + count - 1` into `chunk` (created with these column types, its
   * size set to `count`). Every BIGINT value is an integer within its range and every INTEGER one
   * fits 32 bits: `flowColumns` coerces anything else to null.
   */
  fill(
    chunk: duckdb.DataChunk,
    rows: readonly (readonly ColumnValue[])[],
    offset: number,
    count: number,
  ): void {
    if (count > chunkCapacity) throw new RangeError(`a data chunk holds at most ${chunkCapacity} rows`);
    const valid = this.#valid;
    for (let column = 0; column < this.#types.length; column++) {
      const vector = duckdb.data_chunk_get_vector(chunk, column);
      const type = this.#types[column];
      valid.fill(0xff);
      let nulls = false;
      if (type === 'VARCHAR') {
        for (let row = 0; row < count; row++) {
          const value = (rows[offset + row] as readonly ColumnValue[])[column];
          if (typeof value !== 'string') {
            nulls = true;
            valid[row >> 3] = (valid[row >> 3] as number) & ~(1 << (row & 7));
            continue;
          }
          let bytes = this.#strings.get(value);
          if (bytes === undefined) {
            bytes = this.#encoder.encode(value);
            // A batch of audited flows can hold many distinct strings: the cache stays bounded.
            if (this.#strings.size >= maxStrings) this.#strings.clear();
            this.#strings.set(value, bytes);
          }
          duckdb.vector_assign_string_element_len(vector, row, bytes);
        }
      } else {
        let values: NumberArray;
        if (type === 'BIGINT') {
          const bigints = this.#bigints;
          values = bigints;
          for (let row = 0; row < count; row++) {
            const value = (rows[offset + row] as readonly ColumnValue[])[column];
            if (typeof value === 'number') bigints[row] = BigInt(value);
            else {
              bigints[row] = 0n;
              nulls = true;
              valid[row >> 3] = (valid[row >> 3] as number) & ~(1 << (row & 7));
            }
          }
        } else {
          const numbers = type === 'DOUBLE' ? this.#doubles : this.#integers;
          values = numbers;
          for (let row = 0; row < count; row++) {
            const value = (rows[offset + row] as readonly ColumnValue[])[column];
            if (typeof value === 'number') numbers[row] = value;
            else {
              numbers[row] = 0;
              nulls = true;
              valid[row >> 3] = (valid[row >> 3] as number) & ~(1 << (row & 7));
            }
          }
        }
        duckdb.copy_data_to_vector(
          vector,
          0,
          values.buffer as ArrayBuffer,
          0,
          count * values.BYTES_PER_ELEMENT,
        );
      }
      if (nulls) {
        duckdb.vector_ensure_validity_writable(vector);
        duckdb.copy_data_to_vector_validity(vector, 0, valid.buffer, 0, Math.ceil(count / 64) * 8);
      }
    }
  }
}
