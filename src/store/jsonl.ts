// The JSON-lines flow store: one record per line, appended and synced per batch. Queries and
// statistics scan the whole file, which suits small stores and files other tools read (jq, grep,
// `pathwarden dashboard --store FILE`); the DuckDB store is the one for millions of flows.
import { createReadStream, mkdirSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { PathwardenError } from '../errors.js';
import type { FlowRecord } from '../flow/record.js';
import {
  CONNECT_MS_MEMBER,
  EGRESS_MEMBER,
  ERROR_MEMBER,
  hasGatewayKeys,
  OUTCOME_MEMBER,
  RecordJson,
} from '../flow/record-json.js';
import { BufferedFlowStore, describeError, type FlowStoreOptions, StoreIoError } from './buffer.js';
import { columnValuesOf, flowTimeOf, normalizeStoredFlow, storedAsGiven } from './columns.js';
import {
  chooseBucketMs,
  conditionsPredicate,
  type FlowCondition,
  type FlowPosition,
  FlowStatsBuilder,
  groupFlows,
  isAfter,
  type NormalizedFlowQuery,
  type NormalizedStatsRange,
  newestFirst,
  pageOf,
} from './query.js';
import type { FlowGroup, FlowPage, FlowStats, StoredFlow } from './store.js';

/** Bad lines reported one by one at open; beyond this only their count is. */
const reportedBadLines = 20;

export async function openJsonlFlowStore(
  path: string,
  flushIntervalMs: number,
  options: FlowStoreOptions = {},
): Promise<JsonlFlowStore> {
  let handle: FileHandle | undefined;
  try {
    mkdirSync(dirname(path), { recursive: true });
    handle = await open(path, 'a+');
    const { size } = await handle.stat();
    let lastId = 0;
    const bad: number[] = [];
    await scan(
      path,
      (flow) => {
        lastId = Math.max(lastId, flow.id);
      },
      (line) => bad.push(line),
    );
    // A run killed in the middle of a write can leave a last line without its newline; start on a
    // fresh line so the next record is not glued to it (the partial line stays a reported bad line).
    let end = size;
    if (size > 0) {
      const last = Buffer.alloc(1);
      await handle.read(last, 0, 1, size - 1);
      if (last[0] !== 0x0a) {
        await handle.appendFile('\n');
        end++;
      }
    }
    return new JsonlFlowStore(path, handle, end, lastId, bad, flushIntervalMs, options);
  } catch (error) {
    await handle?.close().catch(() => undefined);
    throw new PathwardenError(
      'PW_ERR_STORE_OPEN',
      `cannot open JSONL flow store ${path}: ${describeError(error)}`,
      {
        cause: error,
      },
    );
  }
}

/** Reads every record of the file in order; lines that are not records go to `bad` (1-based). */
async function scan(
  path: string,
  each: (flow: StoredFlow) => void,
  bad: (line: number) => void,
): Promise<void> {
  const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  let number = 0;
  for await (const line of lines) {
    number++;
    if (line.trim() === '') continue;
    let flow: StoredFlow | undefined;
    try {
      const parsed: unknown = JSON.parse(line);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
        flow = normalizeStoredFlow(parsed as StoredFlow);
      }
    } catch {
      flow = undefined;
    }
    if (flow) each(flow);
    else bad(number);
  }
}

/**
 * Buffers each record as the bytes of its line, encoded in append() into shared blocks; a flush
 * hands the blocks' filled ranges to one writev. A flush used to join and encode the whole batch
 * on the event loop (about 10 us per record: 12-26 ms at 1,500 records, the gateway's periodic
 * stall, docs/performance.md "Tail latency, session 4"); and the lines no longer sit on the V8
 * heap until the flush, where each scavenge copied them.
 */
export class JsonlFlowStore extends BufferedFlowStore<number> {
  readonly kind = 'jsonl';
  readonly path: string;
  /** 1-based numbers of the lines found not to be records when the store was opened. */
  readonly badLines: readonly number[];
  readonly #handle: FileHandle;
  readonly #lines = new LineBlocks();
  /** Bytes of the file that hold whole batches. */
  #size: number;
  /** The writer's name of the lines last made from a record's JSON, and its member in them. */
  #gatewayName: string | undefined;
  #gatewayMember = '';

  constructor(
    path: string,
    handle: FileHandle,
    size: number,
    lastId: number,
    badLines: readonly number[],
    flushIntervalMs: number,
    options: FlowStoreOptions,
  ) {
    super(lastId, flushIntervalMs, options);
    this.path = path;
    this.#handle = handle;
    this.#size = size;
    this.badLines = badLines;
    for (const line of badLines.slice(0, reportedBadLines)) {
      this.log.warn(
        { code: 'PW_ERR_STORE_RECORD_INVALID', file: path, line },
        `${path}:${line}: not a flow record; skipped`,
      );
    }
    if (badLines.length > reportedBadLines) {
      this.log.warn(
        { code: 'PW_ERR_STORE_RECORD_INVALID', file: path, lines: badLines.length },
        `${path}: ${badLines.length - reportedBadLines} more lines are not flow records; skipped`,
      );
    }
  }

  protected override encode(flow: StoredFlow): number {
    return this.#lines.add(JSON.stringify(flow));
  }

  /**
   * A decided gateway record whose fields are stored as it holds them (columns.ts `storedAsGiven`)
   * is written from its JSON text (the log's, when the gateway made one, else its own): the stored
   * record's JSON is the same members in another order, so the line is the text's parts put in that
   * order, with the id and the gateway's name, without the normalized record and a second
   * JSON.stringify (3-4 us a flow; docs/performance.md, "Gateway per request, session 11"). Any
   * other record takes encode(toStoredFlow(...)); jsonl-record-json.test.ts compares the two.
   */
  protected override encodeRecord(flow: FlowRecord, id: number, gateway: string, json?: RecordJson): number {
    // storedAsGiven first: a value it refuses (a BigInt, say) may be one JSON.stringify throws on,
    // and the normalized record stores it as null where the record's own text would fail.
    if (!storedAsGiven(flow)) return super.encodeRecord(flow, id, gateway);
    const given = json ?? (hasGatewayKeys(flow) ? new RecordJson(flow) : undefined);
    if (given === undefined || !given.cut) return super.encodeRecord(flow, id, gateway);
    if (gateway !== this.#gatewayName) {
      this.#gatewayName = gateway;
      this.#gatewayMember = `,"gateway":${JSON.stringify(gateway)}`;
    }
    const gatewayMember = this.#gatewayMember;
    const text = given.text;
    // The id's digits and the line's own members are ASCII; the parts of `text` at most 3 bytes a unit.
    const most = (text.length + gatewayMember.length) * 3 + 64;
    return this.#lines.addWith(most, (bytes, start) => {
      let at = start + bytes.write(`{"id":${id},`, start, 'latin1');
      at += bytes.write(text.slice(1, given.egress), at, 'utf8');
      at += bytes.write(gatewayMember, at, 'utf8');
      bytes.set(given.decisionBytes, at);
      at += given.decisionBytes.length;
      const egressPath = text.slice(given.egress + EGRESS_MEMBER.length, given.connectMs);
      const connectMs = text.slice(given.connectMs + CONNECT_MS_MEMBER.length, given.decision);
      const error = text.slice(given.error + ERROR_MEMBER.length, given.outcome);
      const outcome = text.slice(given.outcome + OUTCOME_MEMBER.length, text.length - 1);
      const rest = `,"egressPath":${egressPath},"outcome":${outcome},"error":${error},"connectMs":${connectMs}}`;
      return at + bytes.write(rest, at, 'utf8');
    });
  }

  protected async writeBatch(lines: readonly number[]): Promise<void> {
    const first = lines[0] as number;
    const last = lines[lines.length - 1] as number;
    // The buffer is first in, first out (a batch is everything buffered; a failed batch goes back
    // in front; drops take the oldest): a batch is a run of consecutive lines, and every line
    // before it has been written or dropped.
    const consecutive = last - first + 1 === lines.length;
    if (consecutive) this.#lines.release(first);
    const pieces = this.#runsOf(lines);
    let length = 0;
    for (const piece of pieces) length += piece.length;
    try {
      // A kill -9 can cut a batch short only at the end of the file, where the next open finds and
      // reports the partial line.
      const { bytesWritten } = await this.#handle.writev(pieces);
      if (bytesWritten !== length) throw new Error(`short write: ${bytesWritten} of ${length} bytes`);
      await this.#handle.datasync();
      this.#size += length;
      if (consecutive) this.#lines.release(last + 1);
    } catch (error) {
      // Whole batches or nothing: cut off what part of the batch got written (disk full), so the
      // retry does not write its first records twice.
      await this.#handle.truncate(this.#size).catch(() => undefined);
      throw error;
    }
  }

  /** The bytes of `lines` read a run of consecutive lines at a time (not line by line: blocks x lines). */
  #runsOf(lines: readonly number[]): Buffer[] {
    const pieces: Buffer[] = [];
    for (let start = 0; start < lines.length; ) {
      let end = start;
      while (end + 1 < lines.length && lines[end + 1] === (lines[end] as number) + 1) end++;
      for (const piece of this.#lines.ranges(lines[start] as number, lines[end] as number))
        pieces.push(piece);
      start = end + 1;
    }
    return pieces;
  }

  protected async readPage(query: NormalizedFlowQuery): Promise<FlowPage> {
    const matches = await this.#matching(query.conditions);
    matches.sort(newestFirst);
    const { after } = query;
    const start = after === undefined ? query.offset : firstAfter(matches, after);
    return pageOf(matches.slice(start, start + query.limit + 1), query, matches.length);
  }

  protected async readStats(range: NormalizedStatsRange): Promise<FlowStats> {
    const matches = await this.#matching(range.conditions);
    let first = range.from ?? null;
    let last = range.to === undefined ? null : range.to - 1;
    if (first === null || last === null) {
      let min: number | null = null;
      let max: number | null = null;
      for (const flow of matches) {
        const time = flowTimeOf(flow);
        if (time === null) continue;
        if (min === null || time < min) min = time;
        if (max === null || time > max) max = time;
      }
      first ??= min;
      last ??= max;
    }
    const builder = new FlowStatsBuilder(chooseBucketMs(range.bucketMs, first, last), range.series);
    for (const flow of matches) builder.addFlow(flow);
    return builder.build();
  }

  protected async readGroups(conditions: readonly FlowCondition[]): Promise<FlowGroup[]> {
    return groupFlows(await this.#matching(conditions));
  }

  async #matching(conditions: readonly FlowCondition[]): Promise<StoredFlow[]> {
    const test = conditionsPredicate(conditions);
    const matches: StoredFlow[] = [];
    try {
      // Bad lines were reported at open; a scan skips them quietly.
      await scan(
        this.path,
        (flow) => {
          if (test(columnValuesOf(flow))) matches.push(flow);
        },
        () => undefined,
      );
    } catch (error) {
      throw new StoreIoError(`cannot read JSONL flow store ${this.path}: ${describeError(error)}`, error);
    }
    return matches;
  }

  protected async release(): Promise<void> {
    await this.#handle.close();
  }
}

/** Index of the first flow after `position` in flows sorted newest first (binary search). */
function firstAfter(sorted: readonly StoredFlow[], position: FlowPosition): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (isAfter(sorted[middle] as StoredFlow, position)) high = middle;
    else low = middle + 1;
  }
  return low;
}

/** Bytes of each block lines are encoded into. */
const lineBlockBytes = 256 * 1024;
/**
 * Freed blocks kept to be filled again: as many as the last release that freed any freed (a busy
 * gateway's batch spans a dozen blocks), and at least this many.
 */
const sparesKept = 2;
/**
 * At most this many freed blocks are kept (2 MiB): a backlog written after an outage can span
 * hundreds of blocks, and a quiet gateway would otherwise hold them for good.
 */
const sparesMost = 8;

const newline = Buffer.from('\n');

/** A block of encoded lines: `ends[i]` is where line `first + i` ends (after its newline). */
interface LineBlock {
  readonly bytes: Buffer;
  readonly first: number;
  readonly ends: number[];
}

/**
 * Encodes lines into large blocks outside the V8 heap and numbers them in order; a batch is asked
 * for by its first and last number and comes back as a handful of buffers. A line is a number
 * (a small integer) on the heap, not an object: the store's buffer holds each line for up to
 * half a flush interval, long enough for every scavenge in between to copy it and the second one
 * to promote it, and the promoted ranges were what filled the old generation between mark-compacts
 * (docs/performance.md, "Tail latency, session 6"). A block is not written to again once full;
 * blocks are freed when every line in them has been written or dropped (`release`), and the last
 * few freed are filled again: a fresh block is fresh memory, and the kernel faulted its pages in
 * one at a time as lines were written to it, about one fault every four flows, each several
 * microseconds on this virtual machine (docs/performance.md, "Plain-HTTP request path, session 10").
 * A line too long for a block gets a block of its own, not filled again by other lines.
 */
export class LineBlocks {
  /** Oldest first; the last one may still take lines. */
  readonly #blocks: LineBlock[] = [];
  /** Freed blocks of lineBlockBytes, to be filled again. */
  readonly #spares: Buffer[] = [];
  #open: LineBlock | undefined;
  #used = 0;
  #next = 0;

  /** Encodes `text` and a newline; returns the line's number. */
  add(text: string): number {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit (a surrogate pair: 4 bytes for 2 units).
    const most = text.length * 3;
    if (most + 1 > lineBlockBytes) return this.#addOversized(Buffer.from(text, 'utf8'));
    return this.addWith(most, (bytes, at) => at + bytes.write(text, at, 'utf8'));
  }

  /**
   * Adds a line of at most `most` bytes (its newline not counted) that `write` puts into `bytes`
   * from `at`, returning where it ends; a newline is added. Returns the line's number.
   */
  addWith(most: number, write: (bytes: Buffer, at: number) => number): number {
    if (most + 1 > lineBlockBytes) {
      const scratch = Buffer.allocUnsafe(most);
      return this.#addOversized(scratch.subarray(0, write(scratch, 0)));
    }
    const line = this.#next++;
    let block = this.#open;
    if (block === undefined || this.#used + most + 1 > lineBlockBytes) {
      block = { bytes: this.#spares.pop() ?? Buffer.allocUnsafeSlow(lineBlockBytes), first: line, ends: [] };
      this.#blocks.push(block);
      this.#open = block;
      this.#used = 0;
    }
    const end = write(block.bytes, this.#used);
    block.bytes[end] = 0x0a;
    this.#used = end + 1;
    block.ends.push(end + 1);
    return line;
  }

  /** A line too long for a block, in a block of its own (`text`: the line without its newline). */
  #addOversized(text: Buffer): number {
    const line = this.#next++;
    const bytes = Buffer.concat([text, newline]);
    this.#blocks.push({ bytes, first: line, ends: [bytes.length] });
    this.#open = undefined;
    return line;
  }

  /** The bytes of lines `first` to `last` (both included, all still held), in order. */
  ranges(first: number, last: number): Buffer[] {
    const pieces: Buffer[] = [];
    for (const block of this.#blocks) {
      const blockLast = block.first + block.ends.length - 1;
      if (blockLast < first) continue;
      if (block.first > last) break;
      const from = Math.max(first, block.first) - block.first;
      const to = Math.min(last, blockLast) - block.first;
      pieces.push(
        block.bytes.subarray(from === 0 ? 0 : (block.ends[from - 1] as number), block.ends[to] as number),
      );
    }
    return pieces;
  }

  /**
   * Lines before `line` are written or dropped: frees the blocks that hold only such lines. Their
   * bytes are filled again by later lines, so no range of a line before `line` may still be in use.
   */
  release(line: number): void {
    const blocks = this.#blocks;
    let count = 0;
    while (count < blocks.length) {
      const block = blocks[count] as LineBlock;
      if (block === this.#open || block.first + block.ends.length > line) break;
      count++;
    }
    if (count === 0) return;
    const spares = this.#spares;
    const kept = Math.min(sparesMost, Math.max(sparesKept, count));
    for (let i = 0; i < count && spares.length < kept; i++) {
      const bytes = (blocks[i] as LineBlock).bytes;
      if (bytes.length === lineBlockBytes) spares.push(bytes);
    }
    // Fewer lines per batch than before: the blocks the busier batches needed are let go.
    if (spares.length > kept) spares.length = kept;
    blocks.splice(0, count);
  }

  /** Freed blocks kept to be filled again (for tests). */
  get spares(): number {
    return this.#spares.length;
  }

  /** Blocks held (for tests). */
  get blocks(): number {
    return this.#blocks.length;
  }
}
