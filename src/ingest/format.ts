// The interface every ingest format implements: sniff the content, then stream FlowRecords.
// One file per format in this folder; shared line reading and problem reporting live once.
import type { Readable } from 'node:stream';
import type { FlowRecord } from '../flow/record.js';
import type { DnsAnswers } from './dns-answers.js';
import type { FlowCounter } from './flow-facts.js';

export type FormatName =
  | 'har'
  | 'squid'
  | 'zeek'
  | 'dns'
  | 'pcap'
  | 'nsg'
  | 'vnet'
  | 'azfw'
  | 'vpc'
  | 'csv'
  | 'ndjson';

/**
 * Settings of a format that its content cannot tell (given on the command line). Each format reads
 * only its own; a format never requires one.
 */
/** What a header line is to a format whose records depend on header lines (IngestFormat.headerLine). */
export type HeaderLineKind = 'start' | 'header' | 'comment';

export interface FormatOptions {
  /** AWS VPC / Transit Gateway flow log fields, in order, for lines without a header (`--vpc-fields`). */
  vpcFields?: readonly string[];
  /** A Squid `logformat` (squid.conf syntax) that access.log lines follow (`--squid-logformat`). */
  squidLogformat?: string;
}

export interface IngestContext {
  /** Name of the input as the user gave it (`-` for stdin). */
  file: string;
  /**
   * Reports a bad record (1-based line, or entry / packet number): it is counted and reported as
   * `file:line: message` and skipped; with --strict the audit stops with exit code 2.
   */
  problem(line: number, message: string, field?: string): void;
  /** DNS answers seen in this audit; DNS-bearing formats add to it, classification reads it. */
  dns: DnsAnswers;
  /** Settings given for the formats (none by default). */
  options?: FormatOptions;
  /**
   * When set, formats that support it (Squid native, Zeek conn) hand their flows to it instead of
   * yielding them (see flow-facts.ts); other formats ignore it. Only for consumers that keep no
   * flow.
   */
  counter?: FlowCounter;
  /**
   * Told the key of a problem reported once per input (OnceReporter) just before it is reported:
   * an audit that reads one input in several byte ranges keeps only the first of each key.
   */
  once?: (key: string) => void;
  /** Told the number of newlines in the input once readChunks() has read all of it. */
  linesRead?: (lines: number) => void;
}

export interface IngestFormat {
  name: FormatName;
  /** One line for `--help` and docs. */
  description: string;
  /**
   * Confidence in [0, 1] that an input whose first bytes (up to 64 KiB, already decompressed) are
   * `head` is in this format. Detection is by content; the file name is only a tie-breaker.
   */
  sniff(head: Buffer): number;
  /**
   * Streams the flows of one input (already decompressed). Never throws for bad records: reports
   * them through `ctx.problem` and goes on. Memory stays constant in the input size.
   */
  parse(input: Readable, ctx: IngestContext): AsyncIterable<FlowRecord>;
  /**
   * Optional fast path with the same flows as `parse`, in arrays (about one per input chunk), so a
   * consumer pays one `await` per chunk rather than one per flow (~200 ns each, a large share of a
   * 300 MB/s budget). Each array is new and the consumer's to keep. `flowBatches()` (batches.ts)
   * reads any format this way.
   */
  parseBatches?(input: Readable, ctx: IngestContext): AsyncIterable<FlowRecord[]>;
  /**
   * True when `parseBatches` only iterates its input (for await) through readChunks() and keeps no
   * view of a chunk: it may then be given a FileChunks (file-chunks.ts) instead of a stream, and a
   * byte range of a file that starts and ends at line boundaries.
   */
  iteratesInput?: boolean;
  /**
   * For formats whose lines depend on header lines before them (Zeek's `#fields`): whether `line`
   * starts a new header block (`start`: earlier header lines no longer apply), belongs to one and
   * sets something the parser reads (`header`), belongs to one and sets nothing the parser reads
   * (`comment`, e.g. Zeek's `#open` time: two blocks that differ only there read alike), or is
   * not a header line. It must agree with the parser's own reading. A byte range of such an input
   * is read after the header lines in force where it starts.
   */
  headerLine?(line: string): HeaderLineKind | undefined;
}
