// The rows of a ClickHouse insert, in the table's column order (clickhouse-schema.ts), built from the
// same column readers as every store. Live inserts are Native blocks (every column's values together,
// fixed-width numbers and length-prefixed strings; RowBinary, the format before, is kept for the
// benchmark); the spool stays TabSeparated, so a spooled batch can be read, filtered by id line by
// line and replayed by any version of pathwarden.
import { type ClickHouseColumn, clickhouseColumns } from './clickhouse-schema.js';
import { type ColumnValue, flowColumns, flowTimeOf } from './columns.js';
import type { StoredFlow } from './store.js';

/** The largest DateTime (UInt32 seconds). */
export const maxDateTime = 4_294_967_295;

/** Rows per chunk of a streamed insert body: the next chunk is built while ClickHouse parses this one. */
export const chunkRows = 2048;

type ValueKind = 'Int64' | 'Int32' | 'Float64' | 'String';

/** The columns after gateway, id and event_time: how to read each from a flow, and its type. */
const valueColumns = clickhouseColumns.slice(3).map((column) => {
  const flowColumn = flowColumns.find((candidate) => candidate.name === column.name);
  const kind = /^Nullable\((Int64|Int32|Float64|String)\)$/.exec(column.type)?.[1] as ValueKind | undefined;
  if (flowColumn === undefined || kind === undefined)
    throw new Error(`no row encoder for ClickHouse column ${column.name} ${column.type}`);
  return { read: flowColumn.read, kind };
});
const valueReaders = valueColumns.map((column) => column.read);
const valueKinds = valueColumns.map((column) => column.kind);

const int64Limit = 2 ** 63;

/**
 * The value a column stores: null for a number its integer type cannot hold (the readers make numbers
 * whole and finite, but not small), rather than a batch ClickHouse refuses or a wrapped number.
 */
function storable(value: ColumnValue, kind: ValueKind): ColumnValue {
  if (typeof value !== 'number') return value;
  if (kind === 'Int64') return value >= -int64Limit && value < int64Limit ? value : null;
  if (kind === 'Int32') return value >= -2_147_483_648 && value <= 2_147_483_647 ? value : null;
  return value;
}

/** `event_time`: the flow time in whole seconds, 0 when the flow has none, within DateTime's range. */
function eventSeconds(flow: StoredFlow): number {
  const time = flowTimeOf(flow);
  return time === null ? 0 : Math.min(Math.max(Math.floor(time / 1000), 0), maxDateTime);
}

const tsvSpecial = /[\\\t\n\r]/;
const tsvSpecials = /[\\\t\n\r]/g;
const tsvEscapes: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** A TabSeparated field: backslash, tab, newline and carriage return escaped (ClickHouse's escaping). */
function tsvText(text: string): string {
  return tsvSpecial.test(text) ? text.replace(tsvSpecials, (char) => tsvEscapes[char] as string) : text;
}

/** A number as text ClickHouse reads back exactly: whole numbers past 2^53 in every digit, not `9.2e18`. */
function tsvNumber(value: number): string {
  return Number.isInteger(value) && !Number.isSafeInteger(value) ? BigInt(value).toString() : String(value);
}

/**
 * One TabSeparated line per flow of `flows[from..to)`, in the table's column order (`\N` is null):
 * built by hand in one string. This is what the spool holds.
 */
export function insertRowsOf(
  gateway: string,
  flows: readonly StoredFlow[],
  from = 0,
  to = flows.length,
): string {
  const prefix = `${tsvText(gateway)}\t`;
  let text = '';
  for (let index = from; index < to; index++) {
    const flow = flows[index] as StoredFlow;
    // Ten digits: 18.16 reads a DateTime field whose fifth character is not a digit as text
    // (YYYY-MM-DD hh:mm:ss), so a short number such as 0 would be misread.
    let line = `${prefix}${flow.id}\t${String(eventSeconds(flow)).padStart(10, '0')}`;
    for (let column = 0; column < valueReaders.length; column++) {
      const value = storable(
        (valueReaders[column] as (typeof valueReaders)[number])(flow),
        valueKinds[column] as ValueKind,
      );
      line +=
        value === null
          ? '\t\\N'
          : typeof value === 'number'
            ? `\t${tsvNumber(value)}`
            : `\t${tsvText(value)}`;
    }
    text += `${line}\n`;
  }
  return text;
}

/**
 * Writes RowBinary into one buffer that is reused from chunk to chunk and grows when a row does not
 * fit. RowBinary as ClickHouse 18.16 and current releases read it: integers and floats little-endian
 * at their width, DateTime as UInt32 seconds, String as a LEB128 byte count and the UTF-8 bytes,
 * Nullable as a byte (1 null, 0 not) before the value, which is absent when null.
 */
export class RowBinaryWriter {
  #buffer = Buffer.allocUnsafe(1 << 20);
  #view = new DataView(this.#buffer.buffer, this.#buffer.byteOffset, this.#buffer.length);
  #offset = 0;

  get length(): number {
    return this.#offset;
  }

  /** Forgets what was written (a chunk an exception cut short must not start the next one). */
  reset(): void {
    this.#offset = 0;
  }

  /** A copy of what was written since the last reset (the buffer itself is reused). */
  take(): Buffer {
    // allocUnsafe and copy (a memcpy): Buffer.from(subarray) zero-fills and copies element by element.
    const bytes = Buffer.allocUnsafe(this.#offset);
    this.#buffer.copy(bytes, 0, 0, this.#offset);
    this.#offset = 0;
    return bytes;
  }

  #room(bytes: number): void {
    if (this.#offset + bytes <= this.#buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.#buffer.length * 2, this.#offset + bytes));
    this.#buffer.copy(grown, 0, 0, this.#offset);
    this.#buffer = grown;
    this.#view = new DataView(grown.buffer, grown.byteOffset, grown.length);
  }

  /** Bytes as they are (a string encoded once for every row). */
  bytes(bytes: Buffer): void {
    this.#room(bytes.length);
    bytes.copy(this.#buffer, this.#offset);
    this.#offset += bytes.length;
  }

  byte(value: number): void {
    this.#room(1);
    this.#buffer[this.#offset++] = value;
  }

  /** `bytes` zero bytes, to be set later with patchByte(); returns where they start. */
  zeros(bytes: number): number {
    this.#room(bytes);
    const at = this.#offset;
    this.#buffer.fill(0, at, at + bytes);
    this.#offset += bytes;
    return at;
  }

  /** Sets one byte written earlier (`at` from zeros()); the buffer may have grown since. */
  patchByte(at: number, value: number): void {
    this.#buffer[at] = value;
  }

  /** A LEB128 count (Native's column and row counts). */
  varUInt(value: number): void {
    let rest = value;
    while (rest >= 0x80) {
      this.byte((rest & 0x7f) | 0x80);
      rest >>>= 7;
    }
    this.byte(rest);
  }

  uint32(value: number): void {
    this.#room(4);
    this.#view.setUint32(this.#offset, value, true);
    this.#offset += 4;
  }

  /** Any whole number in [-2^63, 2^63) (UInt64 or Int64): low and high 32 bits, exact for doubles. */
  int64(value: number): void {
    this.#room(8);
    this.#view.setUint32(this.#offset, value >>> 0, true);
    this.#view.setUint32(this.#offset + 4, Math.floor(value / 4_294_967_296) >>> 0, true);
    this.#offset += 8;
  }

  int32(value: number): void {
    this.#room(4);
    this.#view.setInt32(this.#offset, value, true);
    this.#offset += 4;
  }

  float64(value: number): void {
    this.#room(8);
    this.#view.setFloat64(this.#offset, value, true);
    this.#offset += 8;
  }

  string(text: string): void {
    const length = text.length;
    // Fewer than 43 UTF-16 units are fewer than 128 UTF-8 bytes: a one-byte count, written after.
    if (length < 43) {
      this.#room(1 + 3 * length);
      const buffer = this.#buffer;
      const start = this.#offset + 1;
      let at = start;
      for (let index = 0; index < length; index++) {
        const code = text.charCodeAt(index);
        if (code >= 0x80) {
          at = start + buffer.write(text, start);
          break;
        }
        buffer[at++] = code;
      }
      buffer[this.#offset] = at - start;
      this.#offset = at;
      return;
    }
    const bytes = Buffer.byteLength(text);
    this.#room(10 + bytes);
    let count = bytes;
    while (count >= 0x80) {
      this.#buffer[this.#offset++] = (count & 0x7f) | 0x80;
      count >>>= 7;
    }
    this.#buffer[this.#offset++] = count;
    this.#offset += this.#buffer.write(text, this.#offset);
  }
}

/** One String value in RowBinary (the gateway name, the same in every row of a batch). */
function rowBinaryString(text: string): Buffer {
  const bytes = Buffer.from(text);
  const count: number[] = [];
  let rest = bytes.length;
  while (rest >= 0x80) {
    count.push((rest & 0x7f) | 0x80);
    rest >>>= 7;
  }
  count.push(rest);
  return Buffer.concat([Buffer.from(count), bytes]);
}

/** Appends the part of an insert body that holds `flows[from..to)` to `writer`. */
type ChunkWriter = (
  writer: RowBinaryWriter,
  gateway: string,
  flows: readonly StoredFlow[],
  from: number,
  to: number,
) => void;

/** Appends the RowBinary rows of `flows[from..to)` (the table's columns, in order) to `writer`. */
const writeRowBinary: ChunkWriter = (writer, gateway, flows, from, to) => {
  const gatewayBytes = rowBinaryString(gateway);
  for (let index = from; index < to; index++) {
    const flow = flows[index] as StoredFlow;
    writer.bytes(gatewayBytes);
    writer.int64(flow.id);
    writer.uint32(eventSeconds(flow));
    for (let column = 0; column < valueReaders.length; column++) {
      const kind = valueKinds[column] as ValueKind;
      const value = storable((valueReaders[column] as (typeof valueReaders)[number])(flow), kind);
      if (value === null) {
        writer.byte(1);
        continue;
      }
      writer.byte(0);
      if (typeof value === 'string') writer.string(value);
      else if (kind === 'Int64') writer.int64(value);
      else if (kind === 'Int32') writer.int32(value);
      else writer.float64(value);
    }
  }
};

/**
 * The buffer every insert body is built in. Shared safely: a chunk is written and copied out in one
 * synchronous step, so bodies of concurrent inserts never interleave within it.
 */
const writer = new RowBinaryWriter();

/** An insert body of `flows` in chunks of `rows` rows written by `write`, each built when the request asks. */
function* chunksOf(
  write: ChunkWriter,
  rows: number,
  gateway: string,
  flows: readonly StoredFlow[],
): Generator<Buffer> {
  for (let from = 0; from < flows.length; from += rows) {
    writer.reset();
    write(writer, gateway, flows, from, Math.min(from + rows, flows.length));
    yield writer.take();
  }
}

/** A RowBinary insert body of `flows` in chunks of `chunkRows` rows. */
export function rowBinaryChunks(gateway: string, flows: readonly StoredFlow[]): Generator<Buffer> {
  return chunksOf(writeRowBinary, chunkRows, gateway, flows);
}

/**
 * Rows per block of a Native insert body. The server parses a block column by column, so larger is
 * cheaper for it; node reads every flow of a block once per column, and past a few thousand flows
 * they no longer stay in the CPU cache between columns (8,192 took 1.3-2x the CPU of 2,048 here).
 */
export const nativeBlockRows = 2048;

/**
 * Appends one Native block of `flows[from..to)`: the column and row counts, then for every column
 * its name, its type and all its values. A Nullable column is its null map (one byte per row, 1 =
 * null) followed by every row's value (the type's default where null). The server reads a column in
 * one go (numbers are copied as they are) instead of value by value as in RowBinary.
 */
const writeNativeBlock: ChunkWriter = (writer, gateway, flows, from, to) => {
  const rows = to - from;
  writer.varUInt(clickhouseColumns.length);
  writer.varUInt(rows);
  const [gatewayColumn, idColumn, timeColumn] = clickhouseColumns as [
    ClickHouseColumn,
    ClickHouseColumn,
    ClickHouseColumn,
  ];
  writer.string(gatewayColumn.name);
  writer.string(gatewayColumn.type);
  const gatewayBytes = rowBinaryString(gateway);
  for (let index = from; index < to; index++) writer.bytes(gatewayBytes);
  writer.string(idColumn.name);
  writer.string(idColumn.type);
  for (let index = from; index < to; index++) writer.int64((flows[index] as StoredFlow).id);
  writer.string(timeColumn.name);
  writer.string(timeColumn.type);
  for (let index = from; index < to; index++) writer.uint32(eventSeconds(flows[index] as StoredFlow));
  for (let column = 0; column < valueReaders.length; column++) {
    const definition = clickhouseColumns[column + 3] as ClickHouseColumn;
    const read = valueReaders[column] as (typeof valueReaders)[number];
    const kind = valueKinds[column] as ValueKind;
    writer.string(definition.name);
    writer.string(definition.type);
    const nullMap = writer.zeros(rows) - from;
    // One loop per kind: the value is read once, and its null flag set in the map written above.
    if (kind === 'String') {
      for (let index = from; index < to; index++) {
        const value = read(flows[index] as StoredFlow);
        if (typeof value === 'string') writer.string(value);
        else {
          writer.patchByte(nullMap + index, 1);
          writer.byte(0);
        }
      }
    } else {
      for (let index = from; index < to; index++) {
        const value = storable(read(flows[index] as StoredFlow), kind);
        if (typeof value !== 'number') writer.patchByte(nullMap + index, 1);
        const number = typeof value === 'number' ? value : 0;
        if (kind === 'Int64') writer.int64(number);
        else if (kind === 'Int32') writer.int32(number);
        else writer.float64(number);
      }
    }
  }
};

/** A Native insert body of `flows` in blocks of `nativeBlockRows` rows. */
export function nativeChunks(gateway: string, flows: readonly StoredFlow[]): Generator<Buffer> {
  return chunksOf(writeNativeBlock, nativeBlockRows, gateway, flows);
}

/** A TabSeparated insert body of `flows` in chunks of `chunkRows` lines (the format before RowBinary). */
export function* tabSeparatedChunks(gateway: string, flows: readonly StoredFlow[]): Generator<Buffer> {
  for (let from = 0; from < flows.length; from += chunkRows)
    yield Buffer.from(insertRowsOf(gateway, flows, from, Math.min(from + chunkRows, flows.length)));
}
