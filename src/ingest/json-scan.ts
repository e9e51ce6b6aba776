// Incremental JSON scanning for formats that are one large JSON document (HAR's log.entries, an
// Azure blob's records): each element of the array at a given key path is cut out and parsed on
// its own as the bytes stream past, so memory is bounded by the largest element, not the file.
// Optionally, top-level values that do not contain the path are items themselves (one JSON
// record per line, as Azure diagnostic logs are also written).
import type { IngestContext } from './format.js';
import { errorMessage } from './problems.js';

export interface JsonScanOptions {
  /** Keys leading from the top-level object to the array whose elements are items. */
  path: readonly string[];
  /** Whether a top-level value in which the path does not occur is an item itself. */
  wholeValues: boolean;
  /**
   * After a syntax error, skip to the next line that starts a top-level value (true: JSON lines)
   * or stop reading (false: one document, where nothing after the error can be trusted).
   */
  resync: boolean;
  /** Items larger than this are reported and skipped. Default 64 MiB. */
  maxItemBytes?: number;
  /**
   * Whether the elements of a top-level array are items too (a JSON array of records, as query
   * tools such as `az monitor log-analytics query` write them). Default false.
   */
  topLevelArray?: boolean;
}

export interface JsonItem {
  value: unknown;
  /** 1-based line where the item starts. */
  line: number;
  /** 1-based position in its array, or among the top-level values. */
  index: number;
}

const DEFAULT_MAX_ITEM_BYTES = 64 << 20;

interface Frame {
  isObject: boolean;
  /** This container lies on `path` (its key chain matches so far). */
  onPath: boolean;
  /** The target array itself. */
  isTarget: boolean;
  /** Last key read in this object (only kept when onPath). */
  key: string | null;
  /** Inside an object: the next string is a key. */
  expectKey: boolean;
  /** Elements seen so far (target array). */
  count: number;
}

enum Capture {
  None = 0,
  /** A container element of the target array: ends when the stack is back at `captureDepth`. */
  Container = 1,
  /** A string / number / literal element: ends at the next `,` or `]` of the target array. */
  Primitive = 2,
}

/**
 * Streams `input` and calls `onItem` for every item, in order. Never throws for bad JSON: every
 * problem goes to `ctx.problem` with its line. Yields once per input chunk.
 */
export class JsonScanner {
  /** The path was found (a HAR without `log.entries` is reported by its format). */
  pathFound = false;
  /** Number of top-level values seen. */
  topLevelValues = 0;

  readonly #options: Required<JsonScanOptions>;
  readonly #stack: Frame[] = [];
  #line = 1;
  #stopped = false;
  #skippingToValue = false;
  // string state
  #inString = false;
  #stringIsKey = false;
  #stringEscaped = false; // the previous byte inside the string was an unescaped backslash
  #keyPieces: Buffer[] = [];
  #keyWanted = false;
  // capture state (one item at a time)
  #capture: Capture = Capture.None;
  #captureDepth = 0;
  #captureStart = -1; // offset in the current chunk, -1 once moved to pieces
  #capturePieces: Buffer[] = [];
  #captureBytes = 0;
  #captureLine = 0;
  #captureIndex = 0;
  #captureTooBig = false;
  // whole top-level value capture
  #whole = false;
  #wholeStart = -1;
  #wholePieces: Buffer[] = [];
  #wholeBytes = 0;
  #wholeLine = 0;
  #wholeTooBig = false;
  #valueLine = 1; // line where the current top-level value started

  constructor(
    private readonly ctx: IngestContext,
    options: JsonScanOptions,
    private readonly onItem: (item: JsonItem) => void,
  ) {
    this.#options = { maxItemBytes: DEFAULT_MAX_ITEM_BYTES, topLevelArray: false, ...options };
  }

  async *scan(input: AsyncIterable<Buffer | string>): AsyncGenerator<void, void, undefined> {
    let first = true;
    try {
      for await (const raw of input) {
        let chunk = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw;
        if (first) {
          first = false;
          if (chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) chunk = chunk.subarray(3);
        }
        this.#chunk(chunk);
        yield;
        if (this.#stopped) return;
      }
    } catch (error) {
      this.ctx.problem(this.#line, `input could not be read to the end: ${errorMessage(error)}`);
      return;
    }
    if (this.#stack.length > 0 || this.#inString) {
      this.ctx.problem(
        this.#valueLine,
        `the JSON value starting here is not complete at the end of the input (line ${this.#line}): truncated?`,
      );
    }
  }

  #chunk(b: Buffer): void {
    const stack = this.#stack;
    const length = b.length;
    let i = 0;
    if (this.#capture !== Capture.None) this.#captureStart = 0;
    if (this.#whole) this.#wholeStart = 0;
    while (i < length) {
      if (this.#skippingToValue) {
        i = this.#skipToValue(b, i);
        continue;
      }
      if (this.#inString) {
        i = this.#stringEnd(b, i);
        if (i < 0) break; // string goes on in the next chunk
        continue;
      }
      const c = b[i] as number;
      switch (c) {
        case 0x0a:
          this.#line++;
          i++;
          continue;
        case 0x20:
        case 0x09:
        case 0x0d:
          i++;
          continue;
        case 0x22: {
          // "
          const top = stack[stack.length - 1];
          if (top === undefined) {
            this.#error('a top-level JSON value must be an object or an array');
            i = this.#skippingToValue ? i : length;
            continue;
          }
          this.#stringIsKey = top.isObject && top.expectKey;
          this.#keyWanted = this.#stringIsKey && top.onPath;
          if (!this.#stringIsKey && top.isTarget && this.#capture === Capture.None)
            this.#begin(Capture.Primitive, i);
          this.#inString = true;
          this.#stringEscaped = false;
          this.#keyPieces = [];
          this.#stringStart = i + 1;
          i++;
          continue;
        }
        case 0x7b: // {
        case 0x5b: {
          // [
          const isObject = c === 0x7b;
          const parent = stack[stack.length - 1];
          if (parent === undefined) {
            this.topLevelValues++;
            this.#valueLine = this.#line;
            if (this.#options.wholeValues) {
              this.#whole = true;
              this.#wholeStart = i;
              this.#wholePieces = [];
              this.#wholeBytes = 0;
              this.#wholeLine = this.#line;
              this.#wholeTooBig = false;
            }
          } else if (parent.isTarget && this.#capture === Capture.None) {
            this.#begin(Capture.Container, i);
          }
          const depth = stack.length;
          const path = this.#options.path;
          let onPath: boolean;
          if (parent === undefined) onPath = isObject && path.length > 0;
          else
            onPath =
              parent.onPath && parent.isObject && depth <= path.length && parent.key === path[depth - 1];
          const isTarget =
            (onPath && depth === path.length && !isObject) ||
            (parent === undefined && !isObject && this.#options.topLevelArray);
          if (onPath && depth === path.length && isObject) onPath = false;
          if (isTarget) {
            this.pathFound = true;
            // The items are cut out one by one: the enclosing value is not kept whole.
            this.#whole = false;
            this.#wholePieces = [];
          }
          stack.push({ isObject, onPath, isTarget, key: null, expectKey: isObject, count: 0 });
          i++;
          continue;
        }
        case 0x7d: // }
        case 0x5d: {
          // ]
          const top = stack[stack.length - 1];
          if (top === undefined || top.isObject !== (c === 0x7d)) {
            this.#error(`unexpected ${c === 0x7d ? '}' : ']'}`);
            i = this.#skippingToValue ? i : length;
            continue;
          }
          if (this.#capture === Capture.Primitive && top.isTarget) this.#end(b, i);
          stack.pop();
          i++;
          if (this.#capture === Capture.Container && stack.length === this.#captureDepth) this.#end(b, i);
          if (stack.length === 0 && this.#whole) this.#endWhole(b, i);
          continue;
        }
        case 0x3a: {
          // :
          const top = stack[stack.length - 1];
          if (top?.isObject) top.expectKey = false;
          i++;
          continue;
        }
        case 0x2c: {
          // ,
          const top = stack[stack.length - 1];
          if (top === undefined) {
            this.#error('unexpected , outside any JSON value');
            i = this.#skippingToValue ? i : length;
            continue;
          }
          if (this.#capture === Capture.Primitive && top.isTarget) this.#end(b, i);
          if (top.isObject) top.expectKey = true;
          i++;
          continue;
        }
        default: {
          // number or literal
          const top = stack[stack.length - 1];
          if (top === undefined) {
            this.#error('not JSON: a top-level value must be an object or an array');
            i = this.#skippingToValue ? i : length;
            continue;
          }
          if (top.isTarget && this.#capture === Capture.None) this.#begin(Capture.Primitive, i);
          i++;
          continue;
        }
      }
    }
    // Keep the unfinished item / value / key for the next chunk.
    if (this.#capture !== Capture.None && this.#captureStart >= 0) this.#hold(b.subarray(this.#captureStart));
    if (this.#whole && this.#wholeStart >= 0) this.#holdWhole(b.subarray(this.#wholeStart));
    if (this.#inString && this.#keyWanted) this.#keyPieces.push(b.subarray(this.#stringStart));
    this.#stringStart = 0;
  }

  #stringStart = 0;
  #newlineChunk: Buffer | null = null;
  #newlineAt = -1;

  /** Offset after the closing quote, or -1 when the string continues past this chunk. */
  #stringEnd(b: Buffer, from: number): number {
    let i = from;
    if (this.#stringEscaped) {
      i++; // the escaped character
      this.#stringEscaped = false;
    }
    // The next line break, found once per line (not once per string: a minified blob is one
    // line of many megabytes).
    if (this.#newlineChunk !== b || (this.#newlineAt >= 0 && this.#newlineAt < i)) {
      this.#newlineChunk = b;
      this.#newlineAt = b.indexOf(0x0a, i);
    }
    for (;;) {
      const quote = b.indexOf(0x22, i);
      const newline = this.#newlineAt;
      if (newline >= 0 && (quote < 0 || newline < quote)) {
        this.#inString = false;
        this.#error('line break inside a JSON string');
        return this.#skippingToValue ? newline : b.length;
      }
      if (quote < 0) {
        // Does the chunk end in the middle of an escape?
        let backslashes = 0;
        for (let k = b.length - 1; k >= i && b[k] === 0x5c; k--) backslashes++;
        this.#stringEscaped = backslashes % 2 === 1;
        return -1;
      }
      let backslashes = 0;
      for (let k = quote - 1; k >= i && b[k] === 0x5c; k--) backslashes++;
      if (backslashes % 2 === 1) {
        i = quote + 1;
        continue;
      }
      this.#inString = false;
      if (this.#keyWanted) {
        this.#keyPieces.push(b.subarray(this.#stringStart, quote));
        const top = this.#stack[this.#stack.length - 1];
        if (top) top.key = decodeKey(Buffer.concat(this.#keyPieces));
        this.#keyPieces = [];
      }
      // A string element of the target array ends at the `,` or `]` after its quote.
      return quote + 1;
    }
  }

  #begin(kind: Capture, at: number): void {
    const top = this.#stack[this.#stack.length - 1] as Frame;
    top.count++;
    this.#capture = kind;
    this.#captureDepth = this.#stack.length;
    this.#captureStart = at;
    this.#capturePieces = [];
    this.#captureBytes = 0;
    this.#captureLine = this.#line;
    this.#captureIndex = top.count;
    this.#captureTooBig = false;
  }

  #hold(piece: Buffer): void {
    if (this.#captureTooBig) return;
    this.#capturePieces.push(piece);
    this.#captureBytes += piece.length;
    if (this.#captureBytes > this.#options.maxItemBytes) {
      this.#captureTooBig = true;
      this.#capturePieces = [];
      this.ctx.problem(
        this.#captureLine,
        `item ${this.#captureIndex} is larger than ${this.#options.maxItemBytes} bytes; skipped`,
      );
    }
  }

  #end(b: Buffer, endOffset: number): void {
    const kind = this.#capture;
    this.#capture = Capture.None;
    if (this.#captureStart >= 0) this.#hold(b.subarray(this.#captureStart, endOffset));
    if (this.#captureTooBig) return;
    const bytes = Buffer.concat(this.#capturePieces, this.#captureBytes);
    this.#capturePieces = [];
    this.#emit(
      kind === Capture.Primitive ? bytes.toString('utf8').trim() : bytes.toString('utf8'),
      this.#captureLine,
      this.#captureIndex,
    );
  }

  #holdWhole(piece: Buffer): void {
    if (this.#wholeTooBig) return;
    this.#wholePieces.push(piece);
    this.#wholeBytes += piece.length;
    if (this.#wholeBytes > this.#options.maxItemBytes) {
      this.#wholeTooBig = true;
      this.#wholePieces = [];
      this.ctx.problem(
        this.#wholeLine,
        `JSON value is larger than ${this.#options.maxItemBytes} bytes; skipped`,
      );
    }
  }

  #endWhole(b: Buffer, endOffset: number): void {
    this.#whole = false;
    if (this.#wholeStart >= 0) this.#holdWhole(b.subarray(this.#wholeStart, endOffset));
    if (this.#wholeTooBig) return;
    const text = Buffer.concat(this.#wholePieces, this.#wholeBytes).toString('utf8');
    this.#wholePieces = [];
    this.#emit(text, this.#wholeLine, this.topLevelValues);
  }

  #emit(text: string, line: number, index: number): void {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      this.ctx.problem(line, `not valid JSON: ${errorMessage(error)}`);
      return;
    }
    this.onItem({ value, line, index });
  }

  /** Reports a syntax error; then skips to the next top-level value (resync) or stops. */
  #error(message: string): void {
    const where = this.#stack.length > 0 ? this.#valueLine : this.#line;
    const tail = this.#options.resync ? '' : '; the rest of the input is not read';
    this.ctx.problem(
      this.#line,
      `${message}${where !== this.#line ? ` (in the value from line ${where})` : ''}${tail}`,
    );
    this.#stack.length = 0;
    this.#capture = Capture.None;
    this.#capturePieces = [];
    this.#whole = false;
    this.#wholePieces = [];
    this.#inString = false;
    if (this.#options.resync) {
      this.#skippingToValue = true;
      this.#afterNewline = false;
    } else {
      this.#stopped = true;
    }
  }

  #afterNewline = false;

  /** While resyncing: skip to the first `{` or `[` that starts a line. */
  #skipToValue(b: Buffer, from: number): number {
    let i = from;
    while (i < b.length) {
      const c = b[i] as number;
      if (c === 0x0a) {
        this.#line++;
        this.#afterNewline = true;
      } else if (this.#afterNewline && (c === 0x7b || c === 0x5b)) {
        this.#skippingToValue = false;
        return i;
      } else if (c !== 0x20 && c !== 0x09 && c !== 0x0d) {
        this.#afterNewline = false;
      }
      i++;
    }
    return i;
  }
}

function decodeKey(raw: Buffer): string {
  const text = raw.toString('utf8');
  if (text.indexOf('\\') < 0) return text;
  try {
    return JSON.parse(`"${text}"`) as string;
  } catch {
    return text;
  }
}
