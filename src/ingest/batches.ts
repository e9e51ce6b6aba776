// The plumbing every format shares: a format is written once as a batch parser (flows collected
// per input chunk), and `parse()` (one flow at a time) is derived from it. Line formats only say
// what one line means.
import { Readable } from 'node:stream';
import type { FlowRecord } from '../flow/record.js';
import { FileChunks } from './file-chunks.js';
import type { FormatName, HeaderLineKind, IngestContext, IngestFormat } from './format.js';
import { type LineReaderOptions, readLines } from './line-reader.js';

/**
 * Reads any format in batches: its `parseBatches` when it has one, else `parse` grouped. An input
 * with content (anything but blanks) that gives neither a flow nor a problem gets one file-level
 * problem, so that a file read with the wrong format, or in a variant no parser knows, never
 * passes as clean and empty.
 */
export async function* flowBatches(
  format: IngestFormat,
  input: Readable | FileChunks,
  ctx: IngestContext,
  batchSize = 512,
  /** For a byte range of an input: no "no record recognised" problem; what was seen is passed here. */
  part?: (seen: InputSeen) => void,
): AsyncGenerator<FlowRecord[], void, undefined> {
  const watch = new InputWatch();
  const counted = ctx.counter?.taken ?? 0;
  const watched = watch.context(ctx);
  // A FileChunks reuses its buffer: it goes to the parser without a stream's read-ahead (only
  // formats that merely iterate their input, see `iteratesInput`, are given one).
  const content =
    input instanceof FileChunks
      ? (watch.content(input) as unknown as Readable)
      : Readable.from(watch.content(input), { objectMode: false });
  if (format.parseBatches) {
    for await (const batch of format.parseBatches(content, watched)) {
      watch.flows += batch.length;
      if (batch.length > 0) yield batch;
    }
  } else {
    let batch: FlowRecord[] = [];
    for await (const flow of format.parse(content, watched)) {
      batch.push(flow);
      watch.flows++;
      if (batch.length >= batchSize) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length > 0) yield batch;
  }
  if (ctx.counter) watch.flows += ctx.counter.taken - counted;
  if (part) part({ sawContent: watch.sawContent, flows: watch.flows, problems: watch.problems });
  else if (isUnrecognised(watch)) ctx.problem(1, unrecognisedMessage(format.name));
}

/** What flowBatches saw of an input (or of a byte range of it). */
export interface InputSeen {
  sawContent: boolean;
  flows: number;
  problems: number;
}

/** An input with content that gave neither a flow nor a problem. */
export function isUnrecognised(seen: InputSeen): boolean {
  return seen.sawContent && seen.flows === 0 && seen.problems === 0;
}

export function unrecognisedMessage(format: FormatName): string {
  return `no record recognised: the input has content, but nothing in it was read as a ${format} record (another format or variant, or only records that are not flows)`;
}

/** What flowBatches counts of one input: whether it had content, its flows and its problems. */
class InputWatch {
  sawContent = false;
  flows = 0;
  problems = 0;

  context(ctx: IngestContext): IngestContext {
    return {
      file: ctx.file,
      dns: ctx.dns,
      options: ctx.options,
      counter: ctx.counter,
      once: ctx.once,
      linesRead: ctx.linesRead,
      problem: (line, message, field) => {
        this.problems++;
        ctx.problem(line, message, field);
      },
    };
  }

  /** The input's chunks unchanged, noting whether any byte is not blank. */
  async *content(input: AsyncIterable<Buffer | string>): AsyncGenerator<Buffer> {
    for await (const raw of input) {
      const chunk = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw;
      if (!this.sawContent) this.sawContent = hasContent(chunk);
      yield chunk;
    }
  }
}

/** Whether a chunk holds a byte other than space, tab, CR, LF or a UTF-8 byte order mark. */
function hasContent(chunk: Buffer): boolean {
  for (let i = 0; i < chunk.length; i++) {
    const c = chunk[i] as number;
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) continue;
    if (c === 0xef && chunk[i + 1] === 0xbb && chunk[i + 2] === 0xbf) {
      i += 2;
      continue;
    }
    return true;
  }
  return false;
}

export interface FormatSpec {
  name: FormatName;
  description: string;
  sniff(head: Buffer): number;
  parseBatches(input: Readable, ctx: IngestContext): AsyncIterable<FlowRecord[]>;
  /** See IngestFormat.iteratesInput. */
  iteratesInput?: boolean;
  /** See IngestFormat.headerLine. */
  headerLine?(line: string): HeaderLineKind | undefined;
}

/** An IngestFormat from a batch parser; `parse` yields the same flows one by one. */
export function defineFormat(spec: FormatSpec): IngestFormat {
  return {
    name: spec.name,
    description: spec.description,
    sniff: spec.sniff,
    parseBatches: spec.parseBatches,
    iteratesInput: spec.iteratesInput,
    headerLine: spec.headerLine,
    async *parse(input, ctx) {
      for await (const batch of spec.parseBatches(input, ctx)) yield* batch;
    },
  };
}

/** What a line format does with one input: a handler per line, and optionally one at the end. */
export interface LineParser {
  /** Handles one non-empty line; pushes its flows (if any) onto `out`. Reports problems itself. */
  line(text: string, lineNumber: number, out: FlowRecord[]): void;
  /** Called once after the last line (flush state that spans lines). */
  end?(out: FlowRecord[]): void;
}

/** Batch parser of a line format: one LineParser per input, flows passed on once per chunk. */
export function lineBatches(
  createParser: (ctx: IngestContext) => LineParser,
  options?: LineReaderOptions,
): (input: Readable, ctx: IngestContext) => AsyncGenerator<FlowRecord[], void, undefined> {
  return async function* parseLines(input, ctx) {
    const parser = createParser(ctx);
    let out: FlowRecord[] = [];
    const onLine = (text: string, lineNumber: number) => parser.line(text, lineNumber, out);
    for await (const _ of readLines(input, ctx, onLine, options)) {
      if (out.length > 0) {
        yield out;
        out = [];
      }
    }
    parser.end?.(out);
    if (out.length > 0) yield out;
  };
}

/** The non-empty lines at the start of a sniffed head (the last, possibly cut, line dropped). */
export function headLines(head: Buffer, max = 20): string[] {
  let text = head.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const lines = text.split('\n');
  if (lines.length > 1 && !text.endsWith('\n')) lines.pop(); // may be cut by the head's size
  const out: string[] = [];
  for (const line of lines) {
    const trimmed = line.endsWith('\r') ? line.slice(0, -1) : line;
    if (trimmed.trim() !== '') out.push(trimmed);
    if (out.length >= max) break;
  }
  return out;
}

/** The head as text without a BOM and leading whitespace (for JSON sniffing). */
export function headText(head: Buffer): string {
  let text = head.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return text.trimStart();
}
