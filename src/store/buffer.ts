// What every flow store shares: append() buffers in memory and never throws, a timer writes the
// buffer at least every flushIntervalMs, a failed batch is retried a few times and then dropped, and
// failures are logged once (and once more on recovery) but always counted.
import { PathwardenError } from '../errors.js';
import type { FlowRecord } from '../flow/record.js';
import type { RecordJson } from '../flow/record-json.js';
import { toStoredFlow } from './columns.js';
import {
  type FlowCondition,
  FlowQueryError,
  type NormalizedFlowQuery,
  type NormalizedStatsRange,
  normalizeFlowQuery,
  normalizeStatsRange,
} from './query.js';
import type {
  FlowGroup,
  FlowPage,
  FlowQuery,
  FlowStats,
  FlowStore,
  StatsRange,
  StoredFlow,
} from './store.js';

/** pino-compatible: the gateway passes its pino logger; the default writes JSON lines to stderr. */
export interface StoreLog {
  warn(details: Record<string, unknown>, message: string): void;
  error(details: Record<string, unknown>, message: string): void;
}

/** Told about the buffer and failed writes (GatewayMetrics implements it). */
export interface FlowStoreObserver {
  /** One batch failed to write (it is retried, or dropped after the last attempt). */
  storeWriteFailed(): void;
  /** Records given up on: a batch out of attempts, a full buffer, or appends after close(). */
  storeFlowsDropped(count: number): void;
  /** Records appended but not written yet. */
  storeFlowsBuffered(count: number): void;
}

export interface FlowStoreOptions {
  log?: StoreLog;
  /** Stamped on every appended record (`gateway` column): the gateway's `id`, or `audit:<id>`. */
  gateway?: string;
  observer?: FlowStoreObserver;
  /** Attempts per batch before it is dropped (default 3, i.e. about three flush intervals). */
  maxAttempts?: number;
  /** Records kept in memory while writes fail; beyond this the oldest are dropped (default 100,000). */
  maxBuffered?: number;
}

/** Buffered records beyond which a write starts at once rather than at the next tick. */
const eagerFlushRecords = 8192;

export const stderrLog: StoreLog = {
  warn: (details, message) => writeLogLine(40, details, message),
  error: (details, message) => writeLogLine(50, details, message),
};

function writeLogLine(level: number, details: Record<string, unknown>, msg: string): void {
  process.stderr.write(
    `${JSON.stringify({ level, time: Date.now(), name: 'pathwarden-store', ...details, msg })}\n`,
  );
}

export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Base of the DuckDB and JSONL stores. Subclasses write batches, answer queries and release their
 * resources; ids, buffering, timing, retries, logging and counting live here once.
 *
 * `Item` is what the buffer holds per record: by default the normalized StoredFlow; a store whose
 * batch is text (JSONL lines) encodes each record in append() instead, so that a flush on the event
 * loop only joins strings and never stalls it for the whole batch's work. The DuckDB store writes the
 * values at append() into columns of its own, outside the V8 heap, and the item is the record's id
 * (`removed` tells it which records left the buffer).
 */
export abstract class BufferedFlowStore<Item = StoredFlow> implements FlowStore {
  abstract readonly kind: string;
  protected readonly log: StoreLog;
  readonly #observer: FlowStoreObserver | undefined;
  readonly #maxAttempts: number;
  readonly #maxBuffered: number;
  readonly #timer: NodeJS.Timeout;
  #buffer: Item[] = [];
  #nextId: number;
  readonly #gateway: string;
  /** Consecutive failed attempts of the records at the head of the buffer. */
  #attempts = 0;
  #failing = false;
  #failedBatches = 0;
  #droppedWhileFailing = 0;
  #closedDropLogged = false;
  #eagerQueued = false;
  #writing: Promise<void> = Promise.resolve();
  #closing: Promise<void> | undefined;

  protected constructor(lastId: number, flushIntervalMs: number, options: FlowStoreOptions) {
    this.#nextId = lastId + 1;
    this.#gateway = options.gateway ?? '';
    this.log = options.log ?? stderrLog;
    this.#observer = options.observer;
    this.#maxAttempts = options.maxAttempts ?? 3;
    this.#maxBuffered = options.maxBuffered ?? 100_000;
    // The promise is "on disk once older than flushIntervalMs". Ticking at half the interval leaves
    // the other half for writing the batch and for timer jitter, so the promise holds as stated.
    // unref: a pending flush must never keep a process alive that is otherwise done.
    this.#timer = setInterval(
      () => {
        if (this.#buffer.length > 0) void this.flush();
      },
      Math.max(5, Math.floor(flushIntervalMs / 2)),
    );
    this.#timer.unref();
  }

  /** Writes one batch durably (all or nothing), or throws. */
  protected abstract writeBatch(items: readonly Item[]): Promise<void>;
  /** The buffered form of a normalized record (the record itself unless a store overrides it). */
  protected encode(flow: StoredFlow): Item {
    return flow as unknown as Item;
  }
  /**
   * The buffered form of a record appended as number `id`: encode() of its normalized form. A store
   * whose item can be made from the record directly, to the same result, overrides this (`json`:
   * the record's JSON text when the caller made one, see append()).
   */
  protected encodeRecord(flow: FlowRecord, id: number, gateway: string, _json?: RecordJson): Item {
    return this.encode(toStoredFlow(flow, id, gateway));
  }
  /**
   * Items that left the buffer, oldest first: a batch written, or records dropped (a batch out of
   * attempts, the oldest beyond maxBuffered, what is left at close). A store that keeps its records
   * apart from the items (the DuckDB store's rows, duckdb-rows.ts) lets them go here; it must not throw.
   */
  protected removed(_items: readonly Item[]): void {}
  protected abstract readPage(query: NormalizedFlowQuery): Promise<FlowPage>;
  protected abstract readStats(range: NormalizedStatsRange): Promise<FlowStats>;
  protected abstract readGroups(conditions: readonly FlowCondition[]): Promise<FlowGroup[]>;
  /** Releases files and connections; called once, after the last write. */
  protected abstract release(): Promise<void>;

  /** Records appended and not written yet (a loader waits while this is high; see load.ts). */
  get buffered(): number {
    return this.#buffer.length;
  }

  append(flow: FlowRecord, json?: RecordJson): void {
    try {
      if (this.#closing) {
        this.#drop(1);
        if (!this.#closedDropLogged) {
          this.#closedDropLogged = true;
          this.log.error(
            { code: 'PW_ERR_STORE_IO', store: this.kind },
            'flow store is closed: records appended now are dropped',
          );
        }
        return;
      }
      // Normalize now: the caller may reuse or mutate its object after append() returns.
      this.#buffer.push(this.encodeRecord(flow, this.#nextId++, this.#gateway, json));
      if (this.#buffer.length > this.#maxBuffered) {
        const dropped = this.#buffer.splice(0, this.#buffer.length - this.#maxBuffered);
        this.#removed(dropped);
        this.#drop(dropped.length);
      }
      this.#observer?.storeFlowsBuffered(this.#buffer.length);
      if (this.#buffer.length >= eagerFlushRecords && !this.#eagerQueued) {
        // Once per burst: the queued write takes everything buffered by the time it runs.
        this.#eagerQueued = true;
        void this.flush();
      }
    } catch (error) {
      // Only a bug can land here; the contract is that append() never throws into the proxy.
      this.#drop(1);
      this.log.error(
        { code: 'PW_ERR_INTERNAL', store: this.kind, err: describeError(error) },
        'could not buffer a flow record',
      );
    }
  }

  flush(): Promise<void> {
    this.#writing = this.#writing
      .then(() => this.#writeBuffered())
      .catch((error: unknown) => {
        // writeBuffered handles write failures itself; this only keeps a bug (say, in an observer)
        // from leaving the chain rejected, which would fail every later flush.
        this.log.error(
          { code: 'PW_ERR_INTERNAL', store: this.kind, err: describeError(error) },
          'flow store flush failed',
        );
      });
    return this.#writing;
  }

  async query(query: FlowQuery): Promise<FlowPage> {
    const normalized = normalizeFlowQuery(query);
    this.#assertOpen();
    // Read your writes: a query sees every record appended before it.
    await this.flush();
    return this.readPage(normalized);
  }

  async stats(range?: StatsRange): Promise<FlowStats> {
    const normalized = normalizeStatsRange(range);
    this.#assertOpen();
    await this.flush();
    return this.readStats(normalized);
  }

  async groups(query: FlowQuery): Promise<FlowGroup[]> {
    // Paging does not apply to groups: every matching flow counts.
    const { conditions } = normalizeFlowQuery({ ...query, limit: undefined, offset: undefined });
    this.#assertOpen();
    await this.flush();
    return this.readGroups(conditions);
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearInterval(this.#timer);
      // No later tick will retry: give a failing batch its remaining attempts now, then give up.
      await this.flush();
      for (let attempt = 1; attempt < this.#maxAttempts && this.#buffer.length > 0; attempt++)
        await this.flush();
      if (this.#buffer.length > 0) {
        const rest = this.#buffer.splice(0);
        this.#removed(rest);
        this.#drop(rest.length);
      }
      await this.release();
    })();
    return this.#closing;
  }

  /**
   * Runs `work` once no batch is being written; the writes flushed after it wait for it (as the
   * next batch waits for a commit that checkpoints).
   */
  protected betweenWrites(work: () => Promise<unknown>): Promise<void> {
    const run = this.#writing.then(async () => {
      await work();
    });
    this.#writing = run.catch(() => undefined);
    return run;
  }

  /** True once close() has begun. */
  protected get closing(): boolean {
    return this.#closing !== undefined;
  }

  #assertOpen(): void {
    if (this.#closing) throw storeClosedError(this.kind);
  }

  async #writeBuffered(): Promise<void> {
    this.#eagerQueued = false;
    if (this.#buffer.length === 0) return;
    const batch = this.#buffer;
    this.#buffer = [];
    try {
      await this.writeBatch(batch);
      this.#removed(batch);
      this.#attempts = 0;
      if (this.#failing) {
        this.log.warn(
          {
            code: 'PW_ERR_STORE_IO',
            store: this.kind,
            failedBatches: this.#failedBatches,
            droppedFlows: this.#droppedWhileFailing,
          },
          'flow store writes recovered',
        );
        this.#failing = false;
        this.#failedBatches = 0;
        this.#droppedWhileFailing = 0;
      }
    } catch (error) {
      this.#attempts++;
      this.#failedBatches++;
      this.#observer?.storeWriteFailed();
      if (!this.#failing) {
        this.#failing = true;
        this.log.error(
          { code: 'PW_ERR_STORE_IO', store: this.kind, err: describeError(error) },
          'flow store write failed; retrying, further failures are counted but not logged until writes recover',
        );
      }
      if (this.#attempts >= this.#maxAttempts) {
        this.#attempts = 0;
        this.#removed(batch);
        this.#drop(batch.length);
      } else {
        this.#buffer = batch.concat(this.#buffer);
      }
    }
    this.#observer?.storeFlowsBuffered(this.#buffer.length);
  }

  /** removed(), which must not throw: a throw after a batch was written would have it written again. */
  #removed(items: readonly Item[]): void {
    try {
      this.removed(items);
    } catch (error) {
      this.log.error(
        { code: 'PW_ERR_INTERNAL', store: this.kind, err: describeError(error) },
        'could not let buffered records go',
      );
    }
  }

  #drop(count: number): void {
    if (count === 0) return;
    if (this.#failing) this.#droppedWhileFailing += count;
    this.#observer?.storeFlowsDropped(count);
  }
}

export class StoreIoError extends PathwardenError {
  constructor(message: string, cause?: unknown) {
    super('PW_ERR_STORE_IO', message, cause === undefined ? {} : { cause });
  }
}

/**
 * What a failed query raises: the caller's mistake as it is (a FlowQueryError found only once the
 * data's time range is known, e.g. too many buckets: a 400 on the admin API), anything else as
 * StoreIoError (a 500).
 */
export function queryFailure(message: string, error: unknown): PathwardenError {
  if (error instanceof FlowQueryError) return error;
  return new StoreIoError(`${message}: ${describeError(error)}`, error);
}

export function storeClosedError(kind: string): StoreIoError {
  return new StoreIoError(`the ${kind} flow store is closed`);
}
