// Zeek conn, dns, ssl and http logs, in Zeek's TSV form (columns from the `#fields` header) or as
// JSON lines (`LogAscii::use_json`), told apart per line. One format for all four logs: the log
// is known from `#path`, a JSON record's `_path`, or else from the fields present.
import { isAscii } from 'node:buffer';
import { emptyFlow, type FlowOriginKind, type FlowRecord } from '../flow/record.js';
import { defineFormat, headLines } from './batches.js';
import {
  ipv4Int32,
  isIPv4At,
  isIPv4Bytes,
  isUnspecified,
  lowerAscii,
  normalizeAddress,
  parseJsonTime,
  parsePort,
  parseScaledDecimal,
  parseScaledDecimalBytes,
  parseUint,
  parseUintBytes,
  splitHostPort,
  toCount,
  toPort,
} from './fields.js';
import { type FlowCounter, FlowFacts, type ZeekConnLayout } from './flow-facts.js';
import type { HeaderLineKind, IngestContext } from './format.js';
import { DEFAULT_MAX_LINE_BYTES, isTooLong, readChunks, splitFields } from './line-reader.js';
import { badField, errorMessage, missingField, OnceReporter, quote } from './problems.js';

export type ZeekLog = 'conn' | 'dns' | 'ssl' | 'http';

const originKinds: Record<ZeekLog, FlowOriginKind> = {
  conn: 'zeek-conn',
  dns: 'zeek-dns',
  ssl: 'zeek-ssl',
  http: 'zeek-http',
};

/** The header keys whose values ZeekTsvReader.header reads (all others it ignores). */
const readHeaderKeys = ['#set_separator', '#empty_field', '#unset_field', '#path', '#fields'];

/**
 * A line's part in a header block, as ZeekTsvReader.header reads it: only `#separator ` (with its
 * space) starts a new section; a line whose key is one the reader reads is a header; any other
 * `#` line (`#open`, `#close`, `#types`, comments, a bare `#separator`) it ignores. A line that
 * starts with a read key but is longer (`#fieldsX`) counts as a header: comparing one line too
 * many costs a re-read, never a wrong count.
 */
export function zeekHeaderLine(line: string): HeaderLineKind | undefined {
  if (line.charCodeAt(0) !== 0x23) return undefined;
  if (line.startsWith('#separator ')) return 'start';
  return readHeaderKeys.some((key) => line.startsWith(key)) ? 'header' : 'comment';
}

export const zeekFormat = defineFormat({
  name: 'zeek',
  description: 'Zeek conn, dns, ssl and http logs (TSV with #fields headers, or JSON lines)',
  iteratesInput: true,
  headerLine: zeekHeaderLine,
  sniff(head) {
    const lines = headLines(head, 10);
    const first = lines[0];
    if (first === undefined) return 0;
    if (first.startsWith('#separator ')) return 0.95;
    if (lines.some((line) => line.startsWith('#fields\t'))) return 0.9;
    if (first.startsWith('{')) {
      const record = tryJson(first);
      if (
        record &&
        typeof record === 'object' &&
        'uid' in record &&
        ('id.orig_h' in record || 'id' in record)
      )
        return 0.9;
    }
    return 0;
  },
  parseBatches: parseZeek,
});

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const BATCH = 1024;

async function* parseZeek(input: AsyncIterable<Buffer | string>, ctx: IngestContext) {
  const tsv = new ZeekTsvReader(ctx);
  const json = new ZeekJsonReader(ctx);
  const counter = ctx.counter;
  let out: FlowRecord[] = [];
  for await (const chunk of readChunks(input, ctx)) {
    const ascii = isAscii(chunk.bytes);
    if (ascii && counter !== undefined && tsv.readsConn) {
      // The audit's fast path: lines are found and conn records counted on the bytes; only the
      // lines the counter declines (and headers, JSON records) become strings.
      const bytes = chunk.bytes;
      const lines = countChunk(bytes, chunk.linesBefore, tsv, json, counter, ctx) - chunk.linesBefore;
      chunk.newlines = lines - (bytes[bytes.length - 1] === 0x0a ? 0 : 1);
      continue;
    }
    const text = chunk.bytes.toString(ascii ? 'latin1' : 'utf8');
    // In an ASCII chunk byte and char offsets agree: numbers and addresses are read from the bytes.
    const bytes = ascii ? chunk.bytes : null;
    let lineNumber = chunk.linesBefore;
    let position = 0;
    while (position < text.length) {
      let newline = text.indexOf('\n', position);
      if (newline < 0) newline = text.length;
      lineNumber++;
      let end = newline;
      if (end > position && text.charCodeAt(end - 1) === 0x0d) end--;
      if (lineNumber === 1 && text.charCodeAt(position) === 0xfeff) position++; // byte order mark
      if (end > position && !isTooLong(ctx, end - position, lineNumber, DEFAULT_MAX_LINE_BYTES)) {
        const first = text.charCodeAt(position);
        if (first === 0x7b /* { */) json.line(text.slice(position, end), lineNumber, out);
        else if (first === 0x23 /* # */) tsv.header(text.slice(position, end), lineNumber);
        else tsv.data(text, bytes, position, end, lineNumber, out);
      }
      if (counter !== undefined && out.length > 0) {
        for (const flow of out) counter.take(flow);
        out.length = 0;
      }
      position = newline + 1;
      if (out.length >= BATCH) {
        yield out;
        out = [];
      }
    }
    chunk.newlines = lineNumber - chunk.linesBefore - (text.endsWith('\n') ? 0 : 1);
  }
  if (out.length > 0) yield out;
}

/**
 * One ASCII chunk read for a counter (the audit): the same lines, problems and flows as the
 * string path of parseZeek, without turning the chunk into a string. Every flow goes to the counter.
 * Returns the number of the chunk's last line. It touches nothing after its loop: V8 compiles
 * the loop while the first chunk runs, and a statement after it that had never run would throw
 * that code away at the first chunk's end (docs/performance.md, "Audit on one core, session 7").
 */
function countChunk(
  bytes: Buffer,
  linesBefore: number,
  tsv: ZeekTsvReader,
  json: ZeekJsonReader,
  counter: FlowCounter,
  ctx: IngestContext,
): number {
  const out: FlowRecord[] = [];
  let lineNumber = linesBefore;
  let position = 0;
  // A counter that reads conn lines itself (the audit's WebAssembly scanner) takes them up to one
  // it leaves to this loop (a header, a JSON record, a line it does not fully understand).
  const bulk = counter.scansLines === true;
  let fresh = true;
  while (position < bytes.length) {
    if (bulk) {
      const layout = tsv.scanLayout();
      if (layout !== null) {
        position = (counter as FlowCounter).zeekLines?.(bytes, position, fresh, layout) ?? position;
        fresh = false;
        lineNumber += (counter as FlowCounter).linesRead ?? 0;
        if (position >= bytes.length) break;
      }
    }
    let newline = bytes.indexOf(0x0a, position);
    if (newline < 0) newline = bytes.length;
    lineNumber++;
    let end = newline;
    if (end > position && bytes[end - 1] === 0x0d) end--;
    if (end > position && !isTooLong(ctx, end - position, lineNumber, DEFAULT_MAX_LINE_BYTES)) {
      const first = bytes[position];
      if (first === 0x7b /* { */) json.line(bytes.toString('latin1', position, end), lineNumber, out);
      else if (first === 0x23 /* # */) tsv.header(bytes.toString('latin1', position, end), lineNumber);
      else if (!tsv.countBytes(bytes, position, end, lineNumber)) {
        // Declined or not a plain conn record: the string path reads (and reports) the line.
        tsv.data(
          bytes.toString('latin1', position, end),
          bytes.subarray(position, end),
          0,
          end - position,
          lineNumber,
          out,
          true,
        );
      }
      if (out.length > 0) {
        for (const flow of out) counter.take(flow);
        out.length = 0;
      }
    }
    position = newline + 1;
  }
  return lineNumber;
}

/** The log a field set belongs to, when no `#path` / `_path` says it. */
function logOfFields(has: (field: string) => boolean): ZeekLog | undefined {
  if (has('query') || has('qtype_name') || has('trans_id')) return 'dns';
  if (has('method') || has('uri') || has('status_code')) return 'http';
  if (has('server_name') || has('cipher') || has('established') || has('resumed')) return 'ssl';
  if (has('conn_state') || has('orig_bytes') || has('history') || has('duration')) return 'conn';
  return undefined;
}

function logOfPath(path: string): ZeekLog | undefined {
  return path === 'conn' || path === 'dns' || path === 'ssl' || path === 'http' ? path : undefined;
}

/** Zeek's `\xNN` escapes (separators and non-printable bytes inside values), decoded. */
export function unescapeZeek(value: string): string {
  if (value.indexOf('\\x') < 0) return value;
  return value.replace(/\\x([0-9a-fA-F]{2})/g, (_, hex: string) =>
    String.fromCharCode(Number.parseInt(hex, 16)),
  );
}

const columnNames = [
  'ts',
  'uid',
  'id.orig_h',
  'id.orig_p',
  'id.resp_h',
  'id.resp_p',
  'proto',
  'duration',
  'orig_bytes',
  'resp_bytes',
  'server_name',
  'host',
  'query',
  'answers',
] as const;
type Column = (typeof columnNames)[number];

/** One TSV log section: its header values and where the columns pathwarden reads are. */
interface TsvSection {
  separator: string;
  setSeparator: string;
  emptyField: string;
  unsetField: string;
  path: string | null;
  log: ZeekLog | undefined;
  originKind: FlowOriginKind;
  /** Column index of each field read, -1 when the log has no such column. */
  column: Record<Column, number>;
  /** Highest column index read: fields after it are never looked at. */
  lastColumn: number;
  fieldCount: number;
}

function newSection(): TsvSection {
  const column = {} as Record<Column, number>;
  for (const name of columnNames) column[name] = -1;
  return {
    separator: '\t',
    setSeparator: ',',
    emptyField: '(empty)',
    unsetField: '-',
    path: null,
    log: undefined,
    originKind: 'zeek-conn',
    column,
    lastColumn: -1,
    fieldCount: 0,
  };
}

class ZeekTsvReader {
  #section: TsvSection = newSection();
  #hasFields = false;
  /** The current section is a log pathwarden does not read; its data lines are skipped. */
  #skipping = false;
  /** Field start / end offsets of the current line, reused. */
  #starts = new Int32Array(64);
  #ends = new Int32Array(64);
  readonly #once: OnceReporter;

  constructor(private readonly ctx: IngestContext) {
    this.#once = new OnceReporter(ctx);
  }

  header(line: string, lineNumber: number): void {
    this.#layout = undefined;
    if (line.startsWith('#separator ')) {
      // A new section starts (logs are often concatenated): forget the previous header.
      this.#section = newSection();
      this.#hasFields = false;
      this.#skipping = false;
      const value = unescapeZeek(line.slice(11));
      if (value.length === 0) badField(this.ctx, lineNumber, '#separator', line.slice(11), 'a separator');
      else this.#section.separator = value;
      return;
    }
    const section = this.#section;
    const sep = line.indexOf(section.separator);
    if (sep < 0) return; // `#close` without a value, or a comment
    const key = line.slice(0, sep);
    const value = line.slice(sep + section.separator.length);
    switch (key) {
      case '#set_separator':
        section.setSeparator = unescapeZeek(value);
        break;
      case '#empty_field':
        section.emptyField = value;
        break;
      case '#unset_field':
        section.unsetField = value;
        break;
      case '#path':
        section.path = value;
        break;
      case '#fields':
        this.fields(value.split(section.separator), lineNumber);
        break;
      default:
        break; // #open, #close, #types and comments carry nothing pathwarden needs
    }
  }

  fields(names: string[], lineNumber: number): void {
    const section = this.#section;
    const has = (name: string) => names.includes(name);
    section.log = section.path === null ? logOfFields(has) : logOfPath(section.path);
    if (section.log !== undefined) section.originKind = originKinds[section.log];
    section.fieldCount = names.length;
    section.lastColumn = -1;
    for (const name of columnNames) {
      const index = names.indexOf(name);
      section.column[name] = index;
      if (index > section.lastColumn) section.lastColumn = index;
    }
    this.#hasFields = true;
    this.#skipping = false;
    if (section.lastColumn + 2 > this.#starts.length) {
      this.#starts = new Int32Array(section.lastColumn + 2);
      this.#ends = new Int32Array(section.lastColumn + 2);
    }
    if (section.log === undefined) {
      this.#skipping = true;
      this.ctx.problem(
        lineNumber,
        `Zeek ${section.path === null ? 'log with these fields' : `${quote(section.path)} log`} is not one ` +
          'pathwarden reads (conn, dns, ssl, http); its records are skipped',
        '#path',
      );
      return;
    }
    for (const required of ['ts', 'id.orig_h', 'id.resp_h'] as const) {
      if (section.column[required] < 0) {
        this.#skipping = true;
        this.ctx.problem(
          lineNumber,
          `Zeek ${section.log} log has no ${required} column; its records are skipped`,
        );
        return;
      }
    }
  }

  data(
    text: string,
    bytes: Buffer | null,
    start: number,
    end: number,
    lineNumber: number,
    out: FlowRecord[],
    /** countBytes() declined the line already: do not offer it to the counter again. */
    offered = false,
  ): void {
    if (this.#skipping) return;
    const ctx = this.ctx;
    const section = this.#section;
    if (!this.#hasFields) {
      this.#once.report('no-fields', lineNumber, 'Zeek TSV data line before any #fields header; skipped');
      return;
    }
    // Field boundaries up to the last column read; later columns are never scanned.
    const starts = this.#starts;
    const ends = this.#ends;
    const separator = section.separator;
    let position = start;
    const last = section.lastColumn;
    for (let index = 0; index <= last; index++) {
      if (position > end) {
        ctx.problem(
          lineNumber,
          `Zeek ${section.log} line has ${index} fields; the #fields header names ${section.fieldCount}`,
        );
        return;
      }
      let next = text.indexOf(separator, position);
      if (next < 0 || next > end) next = end;
      starts[index] = position;
      ends[index] = next;
      position = next + separator.length;
    }
    this.#text = text;
    const log = section.log as ZeekLog;
    const column = section.column;

    const tsColumn = column.ts;
    const micros = bytes
      ? parseScaledDecimalBytes(bytes, 6, starts[tsColumn] as number, ends[tsColumn] as number)
      : parseScaledDecimal(text, 6, starts[tsColumn], ends[tsColumn]);
    if (Number.isNaN(micros)) {
      badField(ctx, lineNumber, 'ts', this.field(tsColumn), 'epoch seconds');
      return;
    }
    if (
      log === 'conn' &&
      bytes !== null &&
      !offered &&
      ctx.counter !== undefined &&
      this.#countConnAt(bytes, micros, lineNumber)
    )
      return;
    const flow = emptyFlow({ kind: section.originKind, file: ctx.file, line: lineNumber });
    flow.start = Math.floor(micros / 1000);
    flow.client = this.field(column['id.orig_h']);
    if (!this.isUnset(column.uid)) flow.connectionId = this.field(column.uid);
    if (log === 'dns') {
      flow.protocol = 'dns';
      if (!this.isUnset(column.query)) {
        const query = unescapeZeek(this.field(column.query));
        if (query !== section.emptyField) flow.host = lowerAscii(query);
      }
      if (flow.host !== null && !this.isUnset(column.answers)) {
        const answers = this.field(column.answers);
        if (answers !== section.emptyField) addAnswers(ctx, flow.host, answers.split(section.setSeparator));
      }
      out.push(flow);
      return;
    }
    const respColumn = column['id.resp_h'];
    const respStart = starts[respColumn] as number;
    const respEnd = ends[respColumn] as number;
    if (bytes ? isIPv4Bytes(bytes, respStart, respEnd) : isIPv4At(text, respStart, respEnd)) {
      flow.destination = text.slice(respStart, respEnd);
    } else {
      const respHost = this.field(respColumn);
      flow.destination = normalizeAddress(respHost) ?? null;
      if (flow.destination === null) {
        badField(ctx, lineNumber, 'id.resp_h', respHost, 'an IP address');
        return;
      }
    }
    const portColumn = column['id.resp_p'];
    if (!this.isUnset(portColumn)) {
      const port = bytes
        ? parseUintBytes(bytes, starts[portColumn] as number, ends[portColumn] as number)
        : parsePort(text, starts[portColumn], ends[portColumn]);
      if (!(port <= 65535)) {
        badField(ctx, lineNumber, 'id.resp_p', this.field(portColumn), 'a port');
        return;
      }
      flow.port = port;
    }
    if (log === 'conn') {
      if (!this.isUnset(column.proto))
        flow.protocol = protocolOf(text, starts[column.proto] as number, ends[column.proto] as number);
      if (flow.protocol === 'icmp') flow.port = null; // Zeek puts the ICMP type / code there
      const durationColumn = column.duration;
      if (!this.isUnset(durationColumn)) {
        const duration = bytes
          ? parseScaledDecimalBytes(
              bytes,
              6,
              starts[durationColumn] as number,
              ends[durationColumn] as number,
            )
          : parseScaledDecimal(text, 6, starts[durationColumn], ends[durationColumn]);
        if (Number.isNaN(duration)) {
          badField(ctx, lineNumber, 'duration', this.field(durationColumn), 'seconds');
          return;
        }
        flow.end = Math.floor((micros + duration) / 1000);
      }
      const up = this.count(bytes, column.orig_bytes, 'orig_bytes', lineNumber);
      const down = this.count(bytes, column.resp_bytes, 'resp_bytes', lineNumber);
      if (Number.isNaN(up) || Number.isNaN(down)) return;
      if (up >= 0) flow.bytesUp = up;
      if (down >= 0) flow.bytesDown = down;
    } else if (log === 'ssl') {
      flow.protocol = 'tls';
      if (!this.isUnset(column.server_name))
        flow.sni = lowerAscii(unescapeZeek(this.field(column.server_name)));
    } else {
      flow.protocol = 'http';
      if (!this.isUnset(column.host)) flow.httpHost = hostHeaderName(unescapeZeek(this.field(column.host)));
    }
    out.push(flow);
  }

  /** The section's layout for a counter that reads conn lines itself (scanLayout()); undefined: not made yet. */
  #layout: ZeekConnLayout | null | undefined;

  /**
   * Where the current section's conn fields are, for a counter that reads its lines itself
   * (FlowCounter.zeekLines: the lines countBytes() would offer, read with the same refusals), or
   * null when countBytes() declines every line of the section, and also when the section's unset
   * marker is not ASCII: countBytes() reads those lines, the counter leaves them all to it.
   */
  scanLayout(): ZeekConnLayout | null {
    if (this.#layout === undefined) this.#layout = this.#makeLayout();
    return this.#layout;
  }

  #makeLayout(): ZeekConnLayout | null {
    const section = this.#section;
    if (this.#skipping || !this.#hasFields || section.log !== 'conn' || section.separator.length !== 1)
      return null;
    const separator = section.separator.charCodeAt(0);
    if (separator > 0x7f || !isAscii(Buffer.from(section.unsetField, 'utf8'))) return null;
    const column = section.column;
    return {
      separator,
      unset: Buffer.from(section.unsetField, 'latin1'),
      columns: Int32Array.of(
        section.lastColumn,
        column.ts,
        column['id.resp_h'],
        column['id.resp_p'],
        column.proto,
        column.duration,
        column.orig_bytes,
        column.resp_bytes,
      ),
    };
  }

  /** True unless the current section is another log than conn (whose lines countBytes declines). */
  get readsConn(): boolean {
    return !this.#hasFields || this.#section.log === 'conn';
  }

  /**
   * countConn() on a data line of an ASCII chunk, its fields found on the bytes; false when the
   * line is not a well-formed conn record with a one-byte separator (the string path then reads
   * and reports it) or the counter declines it.
   */
  countBytes(bytes: Buffer, start: number, end: number, lineNumber: number): boolean {
    const section = this.#section;
    if (this.#skipping || !this.#hasFields || section.log !== 'conn' || section.separator.length !== 1)
      return false;
    const separator = section.separator.charCodeAt(0);
    if (separator > 0x7f) return false;
    const starts = this.#starts;
    const ends = this.#ends;
    if (!splitFields(bytes, start, end, separator, section.lastColumn, starts, ends)) return false;
    const tsColumn = section.column.ts;
    const micros = parseScaledDecimalBytes(bytes, 6, starts[tsColumn] as number, ends[tsColumn] as number);
    if (Number.isNaN(micros)) return false;
    return this.#countConnAt(bytes, micros, lineNumber);
  }

  /**
   * The line's `ts` in microseconds, for countConn(): handed over in a typed array because a
   * double passed as an argument to a call that is not inlined is boxed (a heap number per line).
   */
  readonly #micros = new Float64Array(1);

  #countConnAt(bytes: Buffer, micros: number, lineNumber: number): boolean {
    this.#micros[0] = micros;
    return this.countConn(bytes, lineNumber);
  }

  /**
   * Offers a conn record of an ASCII chunk to ctx.counter by its numbers (TCP or UDP to an IPv4
   * responder, every number well-formed); false when the counter declines or the line needs the
   * general reading (which reports what is wrong with it).
   */
  countConn(bytes: Buffer, lineNumber: number): boolean {
    const micros = this.#micros[0] as number;
    const column = this.#section.column;
    const starts = this.#starts;
    const ends = this.#ends;
    const respColumn = column['id.resp_h'];
    const respStart = starts[respColumn] as number;
    const respEnd = ends[respColumn] as number;
    const word = ipv4Int32(bytes, respStart, respEnd);
    if (Number.isNaN(word) || column.proto < 0) return false;
    const address = word >>> 0;
    if (!isTcpOrUdp(bytes, starts[column.proto] as number, ends[column.proto] as number)) return false;
    const portColumn = column['id.resp_p'];
    let port = -1;
    if (!this.isUnsetBytes(bytes, portColumn)) {
      port = parseUintBytes(bytes, starts[portColumn] as number, ends[portColumn] as number);
      if (!(port <= 65535)) return false;
    }
    let end = Number.NaN;
    const durationColumn = column.duration;
    if (!this.isUnsetBytes(bytes, durationColumn)) {
      const duration = parseScaledDecimalBytes(
        bytes,
        6,
        starts[durationColumn] as number,
        ends[durationColumn] as number,
      );
      if (Number.isNaN(duration)) return false;
      end = Math.floor((micros + duration) / 1000);
    }
    const up = this.isUnsetBytes(bytes, column.orig_bytes)
      ? -1
      : parseUintBytes(bytes, starts[column.orig_bytes] as number, ends[column.orig_bytes] as number);
    const down = this.isUnsetBytes(bytes, column.resp_bytes)
      ? -1
      : parseUintBytes(bytes, starts[column.resp_bytes] as number, ends[column.resp_bytes] as number);
    if (Number.isNaN(up) || Number.isNaN(down)) return false;
    const facts = this.#facts.reset(bytes, lineNumber);
    facts.start = Math.floor(micros / 1000);
    facts.end = end;
    facts.bytesUp = up;
    facts.bytesDown = down;
    facts.port = port;
    facts.destinationStart = respStart;
    facts.destinationEnd = respEnd;
    facts.destination4 = address;
    return (this.ctx.counter as FlowCounter).count(facts);
  }

  /** isUnset() read on the bytes of an ASCII chunk (offsets as set by data() or countBytes()). */
  isUnsetBytes(bytes: Buffer, index: number): boolean {
    if (index < 0) return true;
    const unset = this.#section.unsetField;
    const start = this.#starts[index] as number;
    if ((this.#ends[index] as number) - start !== unset.length) return false;
    for (let i = 0; i < unset.length; i++) if (bytes[start + i] !== unset.charCodeAt(i)) return false;
    return true;
  }

  readonly #facts = new FlowFacts();

  /** The current line (set by data()); fields are read through the offsets below. */
  #text = '';

  field(index: number): string {
    return this.#text.slice(this.#starts[index], this.#ends[index]);
  }

  /** True when the column is absent from the log or holds the unset marker (`-`). */
  isUnset(index: number): boolean {
    if (index < 0) return true;
    const unset = this.#section.unsetField;
    const start = this.#starts[index] as number;
    return (this.#ends[index] as number) - start === unset.length && this.#text.startsWith(unset, start);
  }

  /** A byte-count column: -1 when unset, NaN (reported) when malformed. */
  count(bytes: Buffer | null, index: number, name: string, lineNumber: number): number {
    if (this.isUnset(index)) return -1;
    const value = bytes
      ? parseUintBytes(bytes, this.#starts[index] as number, this.#ends[index] as number)
      : parseUint(this.#text, this.#starts[index], this.#ends[index]);
    if (Number.isNaN(value)) badField(this.ctx, lineNumber, name, this.field(index), 'a byte count');
    return value;
  }
}

/** True when the bytes are `tcp` or `udp`. */
function isTcpOrUdp(b: Buffer, start: number, end: number): boolean {
  if (end - start !== 3 || b[start + 2] !== 0x70 /* p */) return false;
  const c0 = b[start];
  const c1 = b[start + 1];
  return (c0 === 0x74 && c1 === 0x63) /* tc */ || (c0 === 0x75 && c1 === 0x64) /* ud */;
}

/** Zeek's transport names as shared constants (no new string per line for the usual three). */
function protocolOf(text: string, start: number, end: number): string {
  if (end - start === 3) {
    if (text.startsWith('tcp', start)) return 'tcp';
    if (text.startsWith('udp', start)) return 'udp';
  } else if (end - start === 4 && text.startsWith('icmp', start)) {
    return 'icmp';
  }
  return text.slice(start, end);
}

const byteColumns = [
  ['orig_bytes', 'bytesUp'],
  ['resp_bytes', 'bytesDown'],
] as const;

/** The name in an HTTP Host header value (`name`, `name:port`, `[v6]:port`), lower-cased. */
function hostHeaderName(value: string): string {
  const hostPort = splitHostPort(value);
  return lowerAscii(hostPort ? hostPort.host : value);
}

/** Adds each address among a DNS answer list to the audit's name <-> address pairs. */
function addAnswers(ctx: IngestContext, name: string, answers: readonly unknown[]): void {
  for (const answer of answers) {
    if (typeof answer !== 'string') continue;
    const address = normalizeAddress(answer);
    if (address !== undefined && !isUnspecified(address)) ctx.dns.add(name, address);
  }
}

/** A JSON `ts` (epoch seconds as a number or string, or ISO 8601) in microseconds; NaN if bad. */
function jsonTimeMicros(value: unknown): number {
  if (typeof value === 'number')
    return Number.isFinite(value) && value >= 0 ? Math.round(value * 1e6) : Number.NaN;
  if (typeof value === 'string' && value.charCodeAt(4) !== 0x2d) return parseScaledDecimal(value, 6);
  return parseJsonTime(value) * 1000;
}

class ZeekJsonReader {
  readonly #once: OnceReporter;

  constructor(private readonly ctx: IngestContext) {
    this.#once = new OnceReporter(ctx);
  }

  line(line: string, lineNumber: number, out: FlowRecord[]): void {
    const ctx = this.ctx;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch (error) {
      ctx.problem(lineNumber, `not valid JSON: ${errorMessage(error)}`);
      return;
    }
    if (record === null || typeof record !== 'object' || Array.isArray(record)) {
      ctx.problem(lineNumber, 'not a JSON object');
      return;
    }
    const r = record as Record<string, unknown>;
    const id = (r.id !== null && typeof r.id === 'object' ? r.id : {}) as Record<string, unknown>;
    const get = (name: string): unknown => {
      const flat = r[name];
      if (flat !== undefined) return flat;
      return name.startsWith('id.') ? id[name.slice(3)] : undefined;
    };
    const path = typeof r._path === 'string' ? r._path : undefined;
    const log = path !== undefined ? logOfPath(path) : logOfFields((name) => name in r);
    if (log === undefined) {
      const what = path === undefined ? 'records with these fields' : `${quote(path)} records`;
      this.#once.report(
        `log:${path}`,
        lineNumber,
        `Zeek ${what} are not from a log pathwarden reads (conn, dns, ssl, http); skipped`,
      );
      return;
    }
    const startMicros = jsonTimeMicros(r.ts);
    const start = Math.floor(startMicros / 1000);
    if (Number.isNaN(start)) {
      badField(ctx, lineNumber, 'ts', r.ts, 'epoch seconds or an ISO 8601 time');
      return;
    }
    const client = get('id.orig_h');
    if (typeof client !== 'string' || client === '') {
      missingField(ctx, lineNumber, 'id.orig_h');
      return;
    }
    const flow = emptyFlow({ kind: originKinds[log], file: ctx.file, line: lineNumber });
    flow.start = start;
    flow.client = client;
    if (typeof r.uid === 'string' && r.uid !== '') flow.connectionId = r.uid;
    if (log === 'dns') {
      flow.protocol = 'dns';
      if (typeof r.query === 'string' && r.query !== '') flow.host = lowerAscii(r.query);
      if (flow.host !== null && Array.isArray(r.answers)) addAnswers(ctx, flow.host, r.answers);
      out.push(flow);
      return;
    }
    const respHost = get('id.resp_h');
    flow.destination = typeof respHost === 'string' ? (normalizeAddress(respHost) ?? null) : null;
    if (flow.destination === null) {
      badField(ctx, lineNumber, 'id.resp_h', respHost, 'an IP address');
      return;
    }
    const respPort = get('id.resp_p');
    if (respPort !== undefined) {
      const port = toPort(respPort);
      if (port === undefined) {
        badField(ctx, lineNumber, 'id.resp_p', respPort, 'a port');
        return;
      }
      flow.port = port;
    }
    if (log === 'conn') {
      if (typeof r.proto === 'string') flow.protocol = r.proto;
      if (flow.protocol === 'icmp') flow.port = null;
      if (r.duration !== undefined) {
        const duration = typeof r.duration === 'number' ? r.duration : Number.NaN;
        if (!(duration >= 0)) {
          badField(ctx, lineNumber, 'duration', r.duration, 'seconds');
          return;
        }
        flow.end = Math.floor((startMicros + Math.round(duration * 1e6)) / 1000);
      }
      for (const [name, key] of byteColumns) {
        if (r[name] === undefined) continue;
        const bytes = toCount(r[name]);
        if (bytes === undefined) {
          badField(ctx, lineNumber, name, r[name], 'a byte count');
          return;
        }
        flow[key] = bytes;
      }
    } else if (log === 'ssl') {
      flow.protocol = 'tls';
      if (typeof r.server_name === 'string' && r.server_name !== '') flow.sni = lowerAscii(r.server_name);
    } else {
      flow.protocol = 'http';
      if (typeof r.host === 'string' && r.host !== '') flow.httpHost = hostHeaderName(r.host);
    }
    out.push(flow);
  }
}
