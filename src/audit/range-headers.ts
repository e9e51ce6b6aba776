// The header lines (Zeek's `#separator`, `#fields`, ...) inside a byte range of an input, noted
// while the range is read, for `audit --jobs` (jobs.ts): the ranges after the first are read after
// the header block at the top of the file, and the header lines each range saw say afterwards
// whether the next range should have been read after other ones. This replaces a scan of the
// whole file for header lines before any range could start.

import { FileChunks } from '../ingest/file-chunks.js';
import type { HeaderLineKind } from '../ingest/format.js';

/** The header lines of one range: those since its last block start (all of them if none). */
export interface RangeHeaders {
  /** The range has a line that starts a header block (`start`, e.g. `#separator`). */
  start: boolean;
  lines: string[];
}

/** Header lines kept per range before it is declared unusable (null: the audit then runs on one thread). */
export const MAX_RANGE_HEADER_LINES = 1000;
/** Longest header line kept whole (a longer one makes the range's headers unusable). */
const MAX_HEADER_BYTES = 1 << 16;

type HeaderLine = (line: string) => HeaderLineKind | undefined;

/**
 * The header lines in force after `seen`, given those in force before it: a range with a block
 * start replaces them, one without adds to them.
 */
export function headersAfter(before: readonly string[], seen: RangeHeaders): string[] {
  return seen.start ? [...seen.lines] : [...before, ...seen.lines];
}

/**
 * The chunks of a byte range (FileChunks, so that parsers take them as such) with its header lines
 * noted on the way: `done` gets them (null if unusable) once the range has been read to its end.
 */
export class HeaderWatchingChunks extends FileChunks {
  constructor(
    path: string,
    start: number,
    end: number,
    prelude: Uint8Array | null,
    readonly headerLine: HeaderLine,
    readonly done: (headers: RangeHeaders | null) => void,
  ) {
    super(path, start, end, prelude);
  }

  override [Symbol.asyncIterator](): AsyncGenerator<Buffer, void, undefined> {
    const chunks = { [Symbol.asyncIterator]: () => super[Symbol.asyncIterator]() };
    const skip = this.prelude !== null && this.prelude.length > 0 ? 1 : 0;
    return watchHeaders(chunks, skip, this.headerLine, this.done);
  }
}

/**
 * Passes the chunks of a range through unchanged (the first `skip` ones, a prelude, are not part
 * of the range) and notes its header lines; `done` gets them (null if unusable) when the range has
 * been read to its end.
 */
export async function* watchHeaders(
  chunks: AsyncIterable<Buffer>,
  skip: number,
  headerLine: HeaderLine,
  done: (headers: RangeHeaders | null) => void,
): AsyncGenerator<Buffer, void, undefined> {
  const seen: RangeHeaders = { start: false, lines: [] };
  let usable = true;
  let lineStart = true;
  /** The beginning of a header line that the previous chunk cut (copied: chunks are reused). */
  let pending: Buffer | null = null;
  const note = (bytes: Buffer) => {
    let text = bytes.toString('utf8');
    if (text.endsWith('\r')) text = text.slice(0, -1);
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    const kind = headerLine(text);
    if (kind === 'start') {
      seen.start = true;
      seen.lines = [text];
    } else if (kind === 'header') {
      seen.lines.push(text);
      if (seen.lines.length > MAX_RANGE_HEADER_LINES) usable = false;
    }
  };
  let index = 0;
  for await (const chunk of chunks) {
    if (index++ < skip || !usable) {
      yield chunk;
      continue;
    }
    /** Where the search for header lines starts in this chunk. */
    let from = 0;
    if (pending !== null) {
      const end = chunk.indexOf(0x0a);
      pending = Buffer.concat([pending, chunk.subarray(0, end < 0 ? chunk.length : end)]);
      if (pending.length > MAX_HEADER_BYTES) usable = false;
      if (end < 0 || !usable) {
        yield chunk;
        continue;
      }
      note(pending);
      pending = null;
      from = end + 1;
    }
    let at: number;
    if (
      from === 0 &&
      lineStart &&
      (chunk[0] === 0x23 || (index === 1 && skip === 0 && startsWithBomHash(chunk)))
    )
      at = 0;
    else {
      const hit = chunk.indexOf('\n#', Math.max(0, from - 1));
      at = hit < 0 ? -1 : hit + 1;
    }
    while (at >= 0 && usable) {
      const end = chunk.indexOf(0x0a, at);
      if (end < 0) {
        pending = Buffer.from(chunk.subarray(at));
        break;
      }
      note(chunk.subarray(at, end));
      const hit = chunk.indexOf('\n#', end);
      at = hit < 0 ? -1 : hit + 1;
    }
    lineStart = chunk[chunk.length - 1] === 0x0a;
    yield chunk;
  }
  // A header line at the very end of the range, without a newline.
  if (pending !== null && usable) note(pending);
  done(usable ? seen : null);
}

/** A file's first bytes: a UTF-8 byte-order mark, then a header line (the parser skips the mark). */
function startsWithBomHash(chunk: Buffer): boolean {
  return chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf && chunk[3] === 0x23;
}
