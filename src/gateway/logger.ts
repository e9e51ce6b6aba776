// The gateway's JSON log (pino): one line per finished flow at `info`, plus start / stop and
// errors, to standard error or to the file of `log.file` (appended). Lines are collected and written
// in blocks of at least LOG_BLOCK_BYTES, and at least every LOG_FLUSH_MS: one write per line cost a
// write request per proxied request (a sixth of the gateway's CPU in a profile, docs/performance.md).
// The lines are encoded into a byte block as they come (LogBlocks below); the block is handed to
// pino's own destination (sonic-boom), which writes it, flushes it at exit and drops the log on a
// closed pipe. close() / flush() write what is buffered.
import { type DestinationStream, type Logger, pino } from 'pino';
import type { RecordJson } from '../flow/record-json.js';
import type { GatewayConfig } from './config.js';

/**
 * Buffered log bytes that start a write (about 60 flow lines). Each write is a request to libuv's
 * thread pool, and at 32 KiB the writes (`fs.write` and sonic-boom around it) were 2-3 % of the
 * busy gateway's main thread in a profile (docs/performance.md, "Plain-HTTP request path, session 10").
 */
export const LOG_BLOCK_BYTES = 64 * 1024;
/** Longest a line waits in the buffer. */
export const LOG_FLUSH_MS = 250;

/** The destination of each logger made by createGatewayLogger, for logFlow's direct lines. */
const blocksOf = new WeakMap<Logger, LogBlocks>();

export function createGatewayLogger(config: GatewayConfig['log']): Logger {
  const blocks = new LogBlocks(config.file ?? 2);
  const logger = pino(
    { name: 'pathwarden-gateway', level: config.level, timestamp: pino.stdTimeFunctions.isoTime },
    blocks,
  );
  blocksOf.set(logger, blocks);
  return logger;
}

/**
 * Logs a finished flow at `info` with the message "flow": the line `logger.info(record, 'flow')`
 * writes (level, time, the logger's bindings, the record's fields, msg), made with one native
 * JSON.stringify of the record instead of pino's field-by-field concatenation, which was most of
 * the per-flow log cost (pino's `_asJson` about 7 KB of garbage per line, docs/performance.md
 * "Tail latency, session 4"). `json`, when the caller made it (to share it with the JSONL store),
 * is the record's JSON text. The caller checks the level. A logger not made by
 * createGatewayLogger (a test's) gets `logger.info`.
 */
export function logFlow(logger: Logger, record: object, json?: RecordJson): void {
  const blocks = blocksOf.get(logger);
  if (blocks === undefined) {
    logger.info(record, 'flow');
    return;
  }
  const bindings = (logger as unknown as Record<symbol, string>)[pino.symbols.chindingsSym] ?? '';
  if (json === undefined) blocks.writeFields(bindings, JSON.stringify(record));
  else blocks.writeRecord(bindings, json);
}

/** The start of a flow line up to its time's value; the level is pino's `info`. */
const FLOW_LINE_START = `{"level":${pino.levels.values.info},"time":"`;
/** The end of a flow line: its message. */
const FLOW_LINE_END = ',"msg":"flow"}\n';
/**
 * The two as bytes, copied into a block: each Buffer#write call is a few dozen nanoseconds of
 * argument handling before the copy, and a flow line made six (docs/performance.md, "Gateway per
 * request, session 13"). Both are ASCII.
 */
const FLOW_LINE_START_BYTES = Buffer.from(FLOW_LINE_START, 'latin1');
const FLOW_LINE_END_BYTES = Buffer.from(FLOW_LINE_END, 'latin1');
/** `,` and `"` in UTF-8. */
const COMMA = 0x2c;
const QUOTE = 0x22;

/** The last time formatted by isoTimeNow, its milliseconds since the epoch, and its bytes (made on first use). */
let isoMs = Number.NaN;
let isoText = '';
let isoBytes: Buffer | null = null;

/**
 * `new Date().toISOString()`, formatted once per millisecond: a gateway logs several flows within one
 * (formatting took about 0.5 us of each line's 3-4 us).
 */
export function isoTimeNow(): string {
  const now = Date.now();
  if (now !== isoMs) {
    isoMs = now;
    isoText = new Date(now).toISOString();
    isoBytes = null;
  }
  return isoText;
}

/** isoTimeNow() as Latin-1 bytes (it is ASCII), encoded once per millisecond. */
function isoTimeBytesNow(): Buffer {
  isoTimeNow();
  isoBytes ??= Buffer.from(isoText, 'latin1');
  return isoBytes;
}

/**
 * What LogBlocks needs of pino's destination (sonic-boom in buffer mode). sonic-boom emits `write`
 * with the byte count of each write it completed, in the order the bytes were handed to it; a
 * sink without `on` (a test's) never has its blocks filled again.
 */
interface ByteSink {
  write(data: Buffer): boolean;
  flush(callback?: (error?: Error) => void): void;
  flushSync(): void;
  on?(event: 'write', listener: (bytes: number) => void): unknown;
}

/** Bytes of each block; a line longer than what is left of a block starts a new one. */
const blockBytes = 256 * 1024;
/** Full blocks waiting for the sink to finish with them, to be filled again (the oldest first). */
const retiredKept = 4;

/** Every LogBlocks not yet flushed at exit (one listener for all: tests create many loggers). */
const open = new Set<LogBlocks>();
let exitHooked = false;

/**
 * A pino destination that encodes each line into a byte block and hands the block's new bytes to
 * `sink` once LOG_BLOCK_BYTES are pending, at least every LOG_FLUSH_MS, and on flush or exit.
 *
 * sonic-boom's own `minLength` buffer (what this replaces) appends each line to one growing
 * string and measures its UTF-8 length at every write, which flattens the string: each line
 * copied the whole pending block, about 16 KB of garbage per flow line on average (an allocation
 * profile, docs/performance.md "Tail latency, session 4"). A block here is written to once per
 * byte: ranges handed to the sink are never overwritten, since a full block is filled again only
 * once the sink has written every byte of it (#nextBlock).
 */
export class LogBlocks implements DestinationStream {
  readonly #sink: ByteSink;
  readonly #timer: NodeJS.Timeout;
  #block: Buffer = Buffer.allocUnsafeSlow(blockBytes);
  /** Start of the bytes not handed to the sink yet. */
  #start = 0;
  #used = 0;
  /** Bytes handed to the sink so far, and how many of them it reported written (or lost). */
  #handed = 0;
  #written = 0;
  /** Full blocks, each with the `#handed` count its last byte was handed at. */
  readonly #retired: { bytes: Buffer; end: number }[] = [];
  /** The last bindings of a flow line and their UTF-8 (a logger's are the same string every time). */
  #bindingsText = '';
  #bindingsBytes: Buffer = Buffer.alloc(0);

  constructor(dest: string | number, sink?: ByteSink) {
    this.#sink =
      sink ??
      (pino.destination({
        dest,
        sync: false,
        mkdir: true,
        append: true,
        contentMode: 'buffer',
        // 1, not 0: sonic-boom's flush(callback) then waits until the bytes are written.
        minLength: 1,
        maxWrite: 1024 * 1024,
      }) as unknown as ByteSink);
    // Counting what the sink has written lets a full block be filled again once every byte of
    // it is out, instead of a fresh block: fresh memory whose pages the kernel faulted in one at
    // a time as lines were written, each fault several microseconds on this virtual machine
    // (docs/performance.md, "Plain-HTTP request path, session 10"). A write the sink gives up on
    // is never counted, so the count can only lag behind the bytes the sink let go of.
    this.#sink.on?.('write', (bytes: number) => {
      this.#written += bytes;
    });
    this.#timer = setInterval(() => this.#handOver(), LOG_FLUSH_MS);
    this.#timer.unref();
    open.add(this);
    if (!exitHooked) {
      exitHooked = true;
      // Prepended: the blocks are handed over before any other listener (pino's own included) acts
      // on the destination. At a natural exit (the event loop empties, as after SIGTERM's drain)
      // the hand-over is written by the event loop, which then empties again; `exit` (process.exit,
      // an uncaught exception) writes what is left synchronously.
      process.prependListener('beforeExit', handOverAllBeforeExit);
      process.prependListener('exit', flushAllAtExit);
    }
  }

  write(line: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit.
    const most = line.length * 3;
    if (this.#used + most > blockBytes) {
      this.#handOver();
      if (most > blockBytes) {
        const bytes = Buffer.from(line, 'utf8');
        this.#handed += bytes.length;
        this.#sink.write(bytes);
        return;
      }
      this.#nextBlock();
    }
    this.#used += this.#block.write(line, this.#used, 'utf8');
    if (this.#used - this.#start >= LOG_BLOCK_BYTES) this.#handOver();
  }

  /**
   * Writes a flow line: FLOW_LINE_START, the time now and its closing quote, `bindings` (the
   * logger's, `,"pid":...`), the fields of `body` (a JSON object's text) and FLOW_LINE_END, the same
   * bytes as write() of that line once concatenated. Each part is encoded into the block where it
   * goes: a concatenated line was a second copy of the record's text, flattened again by the
   * encoder (about 4 KB of garbage per flow, docs/performance.md "Gateway request path, session 5").
   */
  writeFields(bindings: string, body: string): void {
    this.#writeFlow(bindings, body, undefined);
  }

  /**
   * writeFields(bindings, json.text), its decision's part copied from `json.decisionBytes` (encoded
   * once per rule and verdict) when the record's parts are known: the rest of a gateway record is
   * ASCII as a rule, which V8 encodes at once, and the part with the reason (a `§`) a character at
   * a time. The parts are cut at ASCII commas, so their UTF-8 is the whole text's, byte for byte.
   */
  writeRecord(bindings: string, json: RecordJson): void {
    this.#writeFlow(bindings, json.text, json.cut ? json : undefined);
  }

  #writeFlow(bindings: string, body: string, json: RecordJson | undefined): void {
    const time = isoTimeBytesNow();
    const most = (FLOW_LINE_START.length + time.length + bindings.length + body.length) * 3 + 16;
    if (this.#used + most > blockBytes) {
      if (most > blockBytes) {
        const fields = body.length > 2 ? `,${body.slice(1, -1)}` : '';
        this.write(`${FLOW_LINE_START}${isoTimeNow()}"${bindings}${fields}${FLOW_LINE_END}`);
        return;
      }
      this.#handOver();
      this.#nextBlock();
    }
    if (bindings !== this.#bindingsText) {
      this.#bindingsText = bindings;
      this.#bindingsBytes = Buffer.from(bindings, 'utf8');
    }
    const block = this.#block;
    let at = this.#used;
    block.set(FLOW_LINE_START_BYTES, at);
    at += FLOW_LINE_START_BYTES.length;
    block.set(time, at);
    at += time.length;
    block[at++] = QUOTE;
    block.set(this.#bindingsBytes, at);
    at += this.#bindingsBytes.length;
    if (json !== undefined) {
      // `{` A D E `}` becomes `,` A D E, D from its bytes, followed by FLOW_LINE_END.
      block[at++] = COMMA;
      at += block.write(body.slice(1, json.decision), at, 'utf8');
      block.set(json.decisionBytes, at);
      at += json.decisionBytes.length;
      at += block.write(body.slice(json.error, body.length - 1), at, 'utf8');
    } else if (body.length > 2) {
      // `{"a":1,"b":2}` becomes `,"a":1,"b":2` followed by FLOW_LINE_END over its closing brace.
      // Both braces are one byte in UTF-8, so this is byte for byte `,${body.slice(1, -1)}`.
      const first = at;
      at += block.write(body, at, 'utf8') - 1;
      block[first] = COMMA;
    }
    block.set(FLOW_LINE_END_BYTES, at);
    at += FLOW_LINE_END_BYTES.length;
    this.#used = at;
    if (this.#used - this.#start >= LOG_BLOCK_BYTES) this.#handOver();
  }

  /** Writes what is buffered; `callback` runs once it is written (pino's `logger.flush`). */
  flush(callback?: (error?: Error) => void): void {
    this.#handOver();
    this.#sink.flush(callback);
  }

  flushSync(): void {
    this.#handOver();
    this.#sink.flushSync();
  }

  /** Hands what is buffered to the sink, which writes it as it can. */
  handOver(): void {
    this.#handOver();
  }

  /** Stops the timer; what is buffered is handed over (written by the sink as it can). */
  end(): void {
    this.#handOver();
    clearInterval(this.#timer);
    open.delete(this);
  }

  /**
   * Another block (after a hand-over, so every byte of the full one is handed over): the oldest
   * full block the sink has written all of, or a fresh one. A block the sink may still hold (a
   * write in flight, or queued) is never written to.
   */
  #nextBlock(): void {
    const retired = this.#retired;
    retired.push({ bytes: this.#block, end: this.#handed });
    const oldest = retired[0] as { bytes: Buffer; end: number };
    if (oldest.end <= this.#written) {
      retired.shift();
      this.#block = oldest.bytes;
    } else {
      if (retired.length > retiredKept) retired.shift();
      this.#block = Buffer.allocUnsafeSlow(blockBytes);
    }
    this.#start = 0;
    this.#used = 0;
  }

  #handOver(): void {
    if (this.#used === this.#start) return;
    const bytes = this.#block.subarray(this.#start, this.#used);
    this.#start = this.#used;
    this.#handed += bytes.length;
    this.#sink.write(bytes);
  }
}

function handOverAllBeforeExit(): void {
  for (const blocks of open) {
    try {
      blocks.handOver();
    } catch {
      // A destination that never opened or was destroyed (a closed pipe): nothing more to do.
    }
  }
}

function flushAllAtExit(): void {
  for (const blocks of open) {
    try {
      blocks.flushSync();
    } catch {
      // A destination that never opened or was destroyed (a closed pipe): nothing more to do.
    }
  }
}
