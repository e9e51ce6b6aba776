// Streaming line splitting for every line-based format, in two layers:
// - readChunks(): input Buffers regrouped so each chunk holds whole lines only, with the number of
//   lines before it; the fastest parsers (squid, zeek) scan these bytes themselves.
// - readLines(): each non-empty line as a string with its 1-based number, for everything else.
// No readline and no promise per line: one await per input chunk.
import { isAscii } from 'node:buffer';
import type { IngestContext } from './format.js';
import { errorMessage } from './problems.js';

export interface LineReaderOptions {
  /** Lines longer than this (bytes) are reported once and skipped. Default 1 MiB. */
  maxLineBytes?: number;
}

export const DEFAULT_MAX_LINE_BYTES = 1 << 20;

const NEWLINE = 0x0a;

export interface LineChunk {
  /**
   * Whole lines: every line in it ends with `\n`, except the input's last line when the input does
   * not end with one. A line that spanned input chunks is joined; one over the limit is dropped
   * (and reported) before it gets here, but a line inside one input chunk is not checked: use
   * `isTooLong()`.
   */
  bytes: Buffer;
  /** Number of lines (complete or dropped) before this chunk. */
  linesBefore: number;
  /**
   * A consumer that counts the `\n` in `bytes` anyway sets this to that count, which saves the
   * reader a second pass; left at -1, the reader counts them itself.
   */
  newlines: number;
}

/**
 * Regroups `input` (Buffers or strings) into chunks of whole lines. Keeps no view of an input chunk
 * once it asks for the next (the partial line at its end is copied), so the input may read every
 * chunk into the same buffer (FileChunks). A read error (e.g. a truncated
 * gzip stream) is reported as a problem and ends the input: what came before it is delivered.
 */
export async function* readChunks(
  input: AsyncIterable<Buffer | string>,
  ctx: IngestContext,
  options: LineReaderOptions = {},
): AsyncGenerator<LineChunk, void, undefined> {
  const maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  let lines = 0; // complete lines in the chunks yielded so far
  let pending: Buffer[] = []; // start of a line that is not complete yet
  let pendingBytes = 0;
  let discarding = false; // the pending line went over the limit and was reported
  const reportLong = () =>
    ctx.problem(lines + 1, `line is longer than ${maxLineBytes} bytes; skipped`, undefined);
  try {
    for await (const raw of input) {
      let chunk = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw;
      if (pendingBytes > 0 || discarding) {
        const newline = chunk.indexOf(NEWLINE);
        if (newline < 0) {
          if (!discarding) {
            pending.push(Buffer.from(chunk));
            pendingBytes += chunk.length;
            if (pendingBytes > maxLineBytes) {
              reportLong();
              discarding = true;
              pending = [];
              pendingBytes = 0;
            }
          }
          continue;
        }
        if (discarding) {
          discarding = false;
          lines++;
          chunk = chunk.subarray(newline + 1);
        } else if (pendingBytes + newline > maxLineBytes) {
          reportLong();
          pending = [];
          pendingBytes = 0;
          lines++;
          chunk = chunk.subarray(newline + 1);
        } else {
          // Only the line that spanned the read is joined (not the whole read chunk, which would
          // copy every byte of the input once more): it goes out as a chunk of its own.
          pending.push(chunk.subarray(0, newline + 1));
          const joined = Buffer.concat(pending, pendingBytes + newline + 1);
          pending = [];
          pendingBytes = 0;
          yield { bytes: joined, linesBefore: lines, newlines: 1 };
          lines++;
          chunk = chunk.subarray(newline + 1);
        }
      }
      const last = chunk.lastIndexOf(NEWLINE);
      if (last < 0) {
        if (chunk.length > 0) {
          pending.push(Buffer.from(chunk));
          pendingBytes = chunk.length;
          if (pendingBytes > maxLineBytes) {
            reportLong();
            discarding = true;
            pending = [];
            pendingBytes = 0;
          }
        }
        continue;
      }
      const whole = chunk.subarray(0, last + 1);
      if (last + 1 < chunk.length) {
        pending.push(Buffer.from(chunk.subarray(last + 1)));
        pendingBytes = chunk.length - last - 1;
      }
      const lineChunk: LineChunk = { bytes: whole, linesBefore: lines, newlines: -1 };
      yield lineChunk;
      lines += lineChunk.newlines >= 0 ? lineChunk.newlines : countNewlines(whole);
    }
  } catch (error) {
    ctx.problem(lines + 1, `input could not be read to the end: ${errorMessage(error)}`);
    return;
  }
  if (pendingBytes > 0)
    yield { bytes: Buffer.concat(pending, pendingBytes), linesBefore: lines, newlines: -1 };
  ctx.linesRead?.(lines);
}

function countNewlines(bytes: Buffer): number {
  let count = 0;
  let position = bytes.indexOf(NEWLINE);
  while (position >= 0) {
    count++;
    position = bytes.indexOf(NEWLINE, position + 1);
  }
  return count;
}

/** True (and reported) when a line found inside a chunk is over the limit. */
export function isTooLong(
  ctx: IngestContext,
  length: number,
  lineNumber: number,
  maxLineBytes: number,
): boolean {
  if (length <= maxLineBytes) return false;
  ctx.problem(lineNumber, `line is longer than ${maxLineBytes} bytes; skipped`);
  return true;
}

/** Called for each non-empty line, without its `\n` / `\r\n`. */
export type LineHandler = (line: string, lineNumber: number) => void;

/**
 * Calls `onLine` for every non-empty line of `input`, in order, decoded as UTF-8. Handles `\n` and
 * `\r\n`, a last line without a newline and a byte order mark. Blank lines are skipped (no format
 * has a record on one) but counted, so line numbers match an editor's. Yields after each chunk.
 */
export async function* readLines(
  input: AsyncIterable<Buffer | string>,
  ctx: IngestContext,
  onLine: LineHandler,
  options: LineReaderOptions = {},
): AsyncGenerator<void, void, undefined> {
  const maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  for await (const chunk of readChunks(input, ctx, options)) {
    const bytes = chunk.bytes;
    // Pure-ASCII chunks (the usual log) take the faster latin1 decoding; same text.
    const text = bytes.toString(isAscii(bytes) ? 'latin1' : 'utf8');
    let lineNumber = chunk.linesBefore;
    let position = 0;
    chunk.newlines = 0;
    while (position < text.length) {
      let newline = text.indexOf('\n', position);
      if (newline < 0) newline = text.length;
      lineNumber++;
      if (newline < text.length) chunk.newlines = lineNumber - chunk.linesBefore;
      let end = newline;
      if (end > position && text.charCodeAt(end - 1) === 0x0d) end--;
      if (lineNumber === 1 && text.charCodeAt(position) === 0xfeff) position++;
      if (end > position && !isTooLong(ctx, end - position, lineNumber, maxLineBytes)) {
        onLine(text.slice(position, end), lineNumber);
      }
      position = newline + 1;
    }
    yield;
  }
}

/** `position` moved past a UTF-8 byte order mark at `bytes[position]`, if there is one. */
export function skipBom(bytes: Buffer, position: number): number {
  return bytes[position] === 0xef && bytes[position + 1] === 0xbb && bytes[position + 2] === 0xbf
    ? position + 3
    : position;
}

/** Index of the end of the space-separated field that starts at `start` (or `end`). */
export function fieldEnd(line: string, start: number, end = line.length): number {
  const space = line.indexOf(' ', start);
  return space < 0 || space > end ? end : space;
}

/** Index of the first non-space character at or after `position`. */
export function skipSpaces(line: string, position: number): number {
  let i = position;
  while (line.charCodeAt(i) === 0x20) i++;
  return i;
}

/**
 * The fields of the line `b[start, end)`, separated by the one byte `separator`, up to field
 * `last` (later fields are not scanned): field i is `b[starts[i], ends[i])`. False when the line
 * has fewer than `last + 1` fields. One pass over the bytes rather than an indexOf per field:
 * fields of a log line are short, and a call per field cost more than the bytes between them.
 */
export function splitFields(
  b: Uint8Array,
  start: number,
  end: number,
  separator: number,
  last: number,
  starts: Int32Array,
  ends: Int32Array,
): boolean {
  let index = 0;
  starts[0] = start;
  for (let i = start; i < end; i++) {
    if (b[i] === separator) {
      ends[index] = i;
      if (index === last) return true;
      index++;
      starts[index] = i + 1;
    }
  }
  ends[index] = end;
  return index === last;
}
