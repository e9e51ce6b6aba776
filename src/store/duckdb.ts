// The default flow store: one embedded DuckDB file with one `flows` table. Batches are appended with
// the Appender inside an explicit transaction, so the commit (WAL write and fsync) runs off the
// event loop and a batch is either wholly in the file or not at all. Queries and statistics run as
// SQL, so they stay fast at millions of rows.
import { existsSync, mkdirSync, statfsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  BIGINT,
  DOUBLE,
  type DuckDBConnection,
  DuckDBDataChunk,
  DuckDBInstance,
  type DuckDBType,
  type DuckDBValue,
  INTEGER,
  VARCHAR,
} from '@duckdb/node-api';
import { PathwardenError } from '../errors.js';
import type { FlowRecord } from '../flow/record.js';
import { BufferedFlowStore, describeError, type FlowStoreOptions, queryFailure } from './buffer.js';
import {
  type ColumnValue,
  flowColumns,
  flowPathSql,
  noneKey,
  storedColumns,
  storedFlowFromValues,
} from './columns.js';
import {
  createRollup,
  exceptionGroupSources,
  lastRolledUpId,
  minuteMs,
  refreshRollup,
  statisticsSources,
} from './duckdb-rollup.js';
import { RowArena } from './duckdb-rows.js';
import {
  afterSql,
  chooseBucketMs,
  type FlowCondition,
  FlowStatsBuilder,
  groupNameSql,
  type NormalizedFlowQuery,
  type NormalizedStatsRange,
  newestFirstSql,
  pageOf,
  type SqlDialect,
  sortFlowGroups,
  whereSql,
} from './query.js';
import type { FlowGroup, FlowPage, FlowStats } from './store.js';

const table = 'flows';
const duckTypes: Record<(typeof flowColumns)[number]['sqlType'], DuckDBType> = {
  BIGINT,
  INTEGER,
  DOUBLE,
  VARCHAR,
};
const columnTypes = flowColumns.map((column) => duckTypes[column.sqlType]);
const columnSqlTypes = flowColumns.map((column) => column.sqlType);
/**
 * Rows per slice: converting 128 rows into a data chunk and appending it to the Appender take about
 * 0.5 ms here, in a turn of the event loop of its own.
 */
const sliceRows = 128;
/**
 * Rows appended between two flushes of the Appender into the transaction. A flush costs about
 * 0.8 ms of the event loop's time however few rows it carries, plus about 1.5 us a row: flushing
 * every 256 rows, as before, spent about 3 us a row on the fixed part alone (docs/performance.md,
 * Gateway, "Request path and tail, session 9"). A flush of 2,048 rows is one turn of 2-4 ms; a
 * gateway's tick at one connection holds fewer rows than that.
 */
const flushRows = 2048;
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

// No PRIMARY KEY or ART index: an index slows every append and the queries do not need one. Ids
// and times grow with append order, so DuckDB's per-row-group min/max (zone maps) on `time_ms` and
// `id` skip whole row groups for time-range queries.
const createTableSql = `CREATE TABLE IF NOT EXISTS ${table} (\n${flowColumns
  .map((column) => `  ${column.name} ${column.sqlType}`)
  .join(',\n')}\n)`;

/** The rows in the table's last row group on disk (none: no row). */
const lastRowGroupSql = `SELECT sum(count) FROM pragma_storage_info('${table}')
  WHERE column_name = 'id' AND segment_type <> 'VALIDITY'
  GROUP BY row_group_id ORDER BY row_group_id DESC LIMIT 1`;

const selectList = storedColumns.map((column) => column.name).join(', ');

/**
 * DuckDB's buffer cache limit. A flow store shares the machine with the proxy: its default is 80% of
 * RAM. Setting it again (releaseMemory) also makes DuckDB return its allocators' free memory.
 */
const memoryLimit = '512MB';

/**
 * Free space a checkpoint the store runs needs besides the WAL's size four times over
 * (checkpointRoom). A checkpoint writes the WAL's rows into the file compressed (a 121 MB WAL of
 * gateway rows became 3.6 MB), but it also rewrites the last row group when it merges, and writes
 * the new blocks before the old ones are freed: one checkpoint of a 17 MB WAL of rows with random
 * strings took 79 MB of disk (review, session 12). A CHECKPOINT that runs out of disk is fatal to a
 * DuckDB database: every later statement fails until it is reopened, so a checkpoint during a full
 * disk would turn batches that wait for space into a store that never writes again
 * (src/store/disk-full.test.ts).
 */
const CHECKPOINT_ROOM_BYTES = 64 << 20;

/**
 * Rows in one of DuckDB's row groups (its default row_group_size). The store checkpoints itself
 * when the rows since its last checkpoint fill one (#rowGroupFull). A checkpoint writes the rows
 * appended since the one before as row groups of their own, and merges neighbouring row groups that
 * fit in one, rewriting them: at DuckDB's default 16 MB of WAL (about 27,000 gateway rows) the last,
 * partly filled row group was rewritten, and every row in it compressed again, several times
 * before it filled; a checkpoint at a fixed larger WAL size left row groups as long as the rows
 * between two checkpoints (106,496 rows at 64 MB), and the dashboard's deep page read such a file
 * 2-4x slower (docs/performance.md, Gateway, "The DuckDB store's own threads, session 10" and
 * "The DuckDB store's checkpoint per row group").
 */
export const ROW_GROUP_ROWS = 122_880;

/**
 * DuckDB's own checkpoint_threshold on a disk with room, kept only as a ceiling on the WAL: the
 * store's checkpoint at each full row group comes first (about 74 MB of WAL for gateway rows of ~600
 * bytes of WAL each). DuckDB's checkpoint still runs when a commit crosses it: rows far larger than a
 * gateway's, a WAL replayed at open (the store does not know how many rows it holds), or checkpoints
 * of the store's own skipped for want of disk room. It bounds the WAL, and so the replay after a crash
 * (docs/gateway-api.md, "Flushing and durability"). On a small disk it is lowered (ceilingFor).
 */
export const CHECKPOINT_CEILING_BYTES = 128 << 20;

/** DuckDB's default checkpoint_threshold, main's before the store checkpointed per row group. */
const CHECKPOINT_FLOOR_BYTES = 16 << 20;

/**
 * DuckDB's checkpoint_threshold for a disk where the WAL and the free space together are `space`
 * bytes: CHECKPOINT_CEILING_BYTES, with the store's checkpoint per row group, when a quarter of it
 * holds that much (512 MiB); DuckDB's default 16 MiB below, and the store's checkpoint per row group
 * off (#rowGroupFull), which is main's behaviour before the store checkpointed per row group. At
 * 128 MiB, a row group's WAL (about 74 MB) leaves the checkpoint its room (checkpointRoom: about
 * 360 MB) when the threshold was chosen; a disk that shrinks below it turns the threshold down at the
 * next batch. What no reading can see is a disk another process fills between two batches: the WAL
 * of up to a row group, uncompressed, then takes up to about 60 MB more than main's 16 MiB WAL and
 * compressed file would, so a fill that leaves less than that stops this store (until room is freed)
 * where main's would go on (docs/gateway-api.md, "Write failures"). Nothing in
 * between: at a threshold under a row group's WAL (about 74 MB of gateway rows) DuckDB's checkpoints
 * and the store's would both run, each rewriting the last row group, and DuckDB's alone at, say,
 * 48 MiB would leave row groups as short as the rows between two of them (80,000 here; 2-4x slower
 * deep pages in session 10 at 106,496), where 16 MiB gives main's merged, nearly full ones
 * (docs/performance.md, Gateway, "The DuckDB store's checkpoint per row group", part "Session 12").
 * The WAL's size is counted in `space` because the checkpoint gives it back, so the value holds
 * still while the WAL grows.
 */
export function ceilingFor(space: number): number {
  return space / 4 >= CHECKPOINT_CEILING_BYTES ? CHECKPOINT_CEILING_BYTES : CHECKPOINT_FLOOR_BYTES;
}

/** The DuckDB settings every open of the store's database uses. */
const instanceOptions = {
  memory_limit: memoryLimit,
  checkpoint_threshold: `${CHECKPOINT_CEILING_BYTES >> 20}MiB`,
};

export async function openDuckDbFlowStore(
  path: string,
  flushIntervalMs: number,
  options: FlowStoreOptions = {},
): Promise<DuckDbFlowStore> {
  let instance: DuckDBInstance | undefined;
  try {
    mkdirSync(dirname(path), { recursive: true });
    instance = await DuckDBInstance.create(path, instanceOptions);
    const writer = await instance.connect();
    await writer.run(createTableSql);
    await checkColumns(writer, path);
    const last = await writer.runAndReadAll(`SELECT coalesce(max(id), 0) FROM ${table}`);
    const lastId = Number(last.getRows()[0]?.[0] ?? 0);
    return new DuckDbFlowStore(instance, writer, lastId, flushIntervalMs, options, path);
  } catch (error) {
    instance?.closeSync();
    if (error instanceof PathwardenError) throw error;
    throw new PathwardenError(
      'PW_ERR_STORE_OPEN',
      `cannot open DuckDB flow store ${path}: ${describeError(error)}`,
      {
        cause: error,
      },
    );
  }
}

/**
 * Refuses a `flows` table of another shape (another program's, or a future pathwarden's). A file
 * written before the `gateway` column existed gets it (empty for the older records).
 */
async function checkColumns(connection: DuckDBConnection, path: string): Promise<void> {
  const columnsOf = async () => {
    const reader = await connection.runAndReadAll(
      `SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = current_database()
         AND schema_name = 'main' AND table_name = '${table}' ORDER BY column_index`,
    );
    return reader.getRows().map(([name, type]) => `${String(name)} ${String(type)}`);
  };
  let found = await columnsOf();
  const expected = flowColumns.map((column) => `${column.name} ${column.sqlType}`);
  if (found.join(',') === expected.slice(0, -1).join(',') && expected.at(-1) === 'gateway VARCHAR') {
    await connection.run(`ALTER TABLE ${table} ADD COLUMN gateway VARCHAR DEFAULT ''`);
    found = await columnsOf();
  }
  if (found.join(',') !== expected.join(',')) {
    throw new PathwardenError(
      'PW_ERR_STORE_OPEN',
      `${path} has a ${table} table with other columns than this pathwarden writes (found: ${found.join(', ')})`,
    );
  }
}

/**
 * The buffer holds each record's id; its values are in `#rows` (duckdb-rows.ts), outside the V8 heap,
 * in the same order: a batch of n ids is the n oldest rows there.
 */
export class DuckDbFlowStore extends BufferedFlowStore<number> {
  readonly kind = 'duckdb';
  #instance: DuckDBInstance;
  #writer: DuckDBConnection;
  /** The database was invalidated by a fatal error and is not open again yet (#reopen). */
  #invalid = false;
  /** A reopen in progress: reads wait for it instead of connecting to the database it closes. */
  #reopening: Promise<void> | null = null;
  readonly #reads = new Set<Promise<unknown>>();
  /** The buffered records' values (BufferedFlowStore holds their ids). */
  readonly #rows = new RowArena(columnSqlTypes);
  /**
   * The one data chunk every slice is filled into (reset first): appendDataChunk copies its rows
   * into the Appender. A chunk made per slice cost about 0.45 ms of the event loop's time before
   * its first row (DuckDB allocates and touches a vector of 2,048 values per column, 31 columns,
   * freed only when V8 collects the wrapper): about 3.5 us a row at 128 rows a slice
   * (docs/performance.md, Gateway, "The DuckDB gateway at one connection, session 12").
   */
  #chunk: DuckDBDataChunk | undefined;
  #rollupRefresh: Promise<void> = Promise.resolve();
  #rollupCreated = false;
  /** Statistics read the per-minute rollup where it is exact (false: always the raw flows; benchmarks compare). */
  useRollup = true;
  /** Statistics answered from the rollup so far (tests and benchmarks read it). */
  rollupReads = 0;
  /**
   * The free space a checkpoint the store runs needs with `walBytes` of WAL (#roomToCheckpoint): main's
   * rule, four times the WAL and CHECKPOINT_ROOM_BYTES. Tests lower it to let a
   * checkpoint run out of disk, as one would if another process took the room between the reading
   * and the checkpoint, or raise it to skip every checkpoint of the store's own.
   */
  checkpointRoom = (walBytes: number): number => walBytes * 4 + CHECKPOINT_ROOM_BYTES;
  /**
   * The free space of the store's disk and its WAL's size, read before each batch (two stat calls;
   * tests replace it to play a disk of another size).
   */
  diskReading = (): { free: number; wal: number } => {
    const disk = statfsSync(dirname(this.path));
    return { free: disk.bavail * disk.bsize, wal: this.#walBytes() };
  };
  /** DuckDB's checkpoint_threshold as last set (ceilingFor); an open sets CHECKPOINT_CEILING_BYTES. */
  #ceiling = CHECKPOINT_CEILING_BYTES;
  /** The WAL's size at the last reading (#sawWal); 0 after a checkpoint the store ran. */
  #walSeen = 0;
  /** Rows committed since the last checkpoint the store ran (a WAL replayed at open is not counted). */
  #sinceCheckpoint = 0;
  /**
   * Rows in the table's last row group on disk that the next checkpoint merges the new rows into, as
   * read after the last checkpoint (#folded): what a quiet checkpoint, or one that could not merge,
   * left in a row group not full yet; 0 when it is full, and at open (not known; the row group is
   * then left as it is).
   */
  #openTail = 0;
  /** The rows of the last batch committed: the guess for the next one's. */
  #lastBatchRows = 0;
  /** The checkpoint at a full row group met the rollup refresh: the next batch runs it first. */
  #checkpointDue = false;
  /** A failed checkpoint was logged; the next failure is logged only after one succeeds. */
  #checkpointFailing = false;
  /** A failed disk reading or threshold setting was logged (#readDisk); logged once. */
  #readDiskFailing = false;

  constructor(
    instance: DuckDBInstance,
    writer: DuckDBConnection,
    lastId: number,
    flushIntervalMs: number,
    options: FlowStoreOptions,
    /** The database file (its WAL is beside it). */
    readonly path: string,
  ) {
    super(lastId, flushIntervalMs, options);
    this.#instance = instance;
    this.#writer = writer;
  }

  /**
   * The row of encode(toStoredFlow(...)) (storedValuesOf, columns.ts), written into `#rows` at once;
   * the buffer keeps the id.
   */
  protected override encodeRecord(flow: FlowRecord, id: number, gateway: string): number {
    this.#rows.append(flow, id, gateway);
    return id;
  }

  /** The rows of written or dropped records leave `#rows`. */
  protected override removed(ids: readonly number[]): void {
    if (ids.length === 0) return;
    try {
      this.#rows.remove(ids[0] as number, ids.length);
    } catch (error) {
      // Only a bug can land here: the rows and the buffer no longer agree (writeBatch then refuses).
      this.log.error(
        { code: 'PW_ERR_INTERNAL', store: this.kind, err: describeError(error) },
        'buffered DuckDB rows do not match the buffer',
      );
    }
  }

  /**
   * Appends the batch in slices of `sliceRows` rows and flushes the Appender every `flushRows` rows
   * and at the end, each step in its own turn, letting the event loop run between steps: the Appender
   * works on the calling thread, so one batch of a second's flows in one turn held the proxy for tens
   * of ms (docs/performance.md, Gateway). The steps share one transaction: the batch is still in the
   * file wholly or not at all.
   */
  protected async writeBatch(batch: readonly number[]): Promise<void> {
    this.#checkRows(batch);
    // The rows since the last checkpoint fill a row group and this batch would not fit in it, or the
    // checkpoint after the last batch met the rollup refresh: fold them first, so the batch starts
    // the next row group (#rowGroupFull).
    if (this.#checkpointDue || this.#rowGroupFull(batch.length)) await this.#checkpoint(true);
    // The batch's rows are the oldest in #rows: from `first` on (all but those already in the file).
    const first = this.#invalid ? await this.#reopenedRest(batch) : 0;
    const rowCount = batch.length - first;
    if (rowCount === 0) return;
    await this.#readDisk();
    const writer = this.#writer;
    await writer.run('BEGIN TRANSACTION');
    try {
      const appender = await writer.createAppender(table);
      try {
        let unflushed = 0;
        for (let offset = 0; offset < rowCount; offset += sliceRows) {
          if (offset > 0) await nextTurn();
          const count = Math.min(sliceRows, rowCount - offset);
          this.#chunk ??= DuckDBDataChunk.create(columnTypes);
          const chunk = this.#chunk;
          // Empties the vectors (their strings and validity) that the previous slice filled.
          chunk.reset();
          chunk.rowCount = count;
          // Read when the slice is written: appends between slices may have moved the rows.
          this.#rows.fill(chunk.chunk, first + offset, count);
          appender.appendDataChunk(chunk);
          unflushed += count;
          if (unflushed >= flushRows || offset + count === rowCount) {
            await nextTurn();
            appender.flushSync();
            unflushed = 0;
          }
        }
      } finally {
        appender.closeSync();
      }
      // COMMIT is where DuckDB writes and syncs its WAL: once it resolves, the batch survives kill -9.
      await writer.run('COMMIT');
    } catch (error) {
      await writer.run('ROLLBACK').catch(() => undefined);
      // DuckDB invalidates the whole database when a checkpoint fails (a full disk at the commit
      // that crosses CHECKPOINT_CEILING_BYTES of WAL): every later statement fails until it is opened
      // again. The batch is retried at the next attempt, on the database opened again (#reopenedRest).
      if (isInvalidation(error)) this.#invalid = true;
      throw error;
    }
    this.#sinceCheckpoint += rowCount;
    this.#lastBatchRows = rowCount;
    await this.#sawWal(this.#walBytes());
    // Another batch of this size would not fit in the row group: fold it now, while the next batch
    // is still being buffered, rather than at that batch's start. The batch is committed: a failed
    // checkpoint does not fail it (#checkpoint).
    if (this.#rowGroupFull(rowCount)) await this.#checkpoint(true);
  }

  /** Throws unless the batch's ids are those of the oldest rows in #rows (a bug otherwise). */
  #checkRows(batch: readonly number[]): void {
    const last = batch.length - 1;
    if (
      this.#rows.length < batch.length ||
      (last >= 0 && (this.#rows.idAt(0) !== batch[0] || this.#rows.idAt(last) !== batch[last]))
    )
      throw new PathwardenError('PW_ERR_INTERNAL', 'buffered DuckDB rows do not match the batch');
  }

  /**
   * True when the rows committed since the last checkpoint, with `next` more, would not fit in the
   * row group they fill (with the rows a quiet checkpoint left in it, #openTail). A checkpoint then
   * writes them as one row group of up to ROW_GROUP_ROWS rows, nearly full, and compresses each row
   * once; the batch after it starts a row group of its own. Never on a small disk, where DuckDB's
   * threshold is its default 16 MiB (ceilingFor) and its own checkpoints come first.
   */
  #rowGroupFull(next: number): boolean {
    return (
      !this.#invalid &&
      this.#ceiling === CHECKPOINT_CEILING_BYTES &&
      this.#sinceCheckpoint > 0 &&
      this.#openTail + this.#sinceCheckpoint + next > ROW_GROUP_ROWS
    );
  }

  /**
   * A checkpoint the store runs itself, on the writing connection between two batches: at a full
   * row group (writeBatch) or when the gateway goes quiet (releaseMemory). Only when the disk has
   * room for it (#roomToCheckpoint); otherwise, and when it fails, it is left to the next batch, the
   * next quiet time, DuckDB's own at CHECKPOINT_CEILING_BYTES, or close. It never throws: the batches
   * before it are committed, and a fatal error (the database invalidated) is noted for the next batch
   * to open the database again (#reopenedRest), as a commit's would be.
   */
  async #checkpoint(atFullRowGroup: boolean): Promise<void> {
    this.#checkpointDue = false;
    if (this.#invalid || !this.#roomToCheckpoint()) return;
    try {
      await this.#writer.run('CHECKPOINT');
    } catch (error) {
      // The dashboard's rollup refresh (#refreshRollup) is a write transaction on a connection of its
      // own, and DuckDB refuses a CHECKPOINT while one is open. Not a failure: the next batch tries
      // again before its BEGIN (a quiet checkpoint is left to the next quiet time or row group).
      if (isBusy(error)) {
        this.#checkpointDue = atFullRowGroup && this.#ceiling === CHECKPOINT_CEILING_BYTES;
        return;
      }
      if (isInvalidation(error)) this.#invalid = true;
      if (!this.#checkpointFailing) {
        this.#checkpointFailing = true;
        this.log.warn(
          { code: 'PW_ERR_STORE_IO', store: this.kind, err: describeError(error) },
          'checkpoint failed; the rows stay in the WAL',
        );
      }
      return;
    }
    this.#checkpointFailing = false;
    this.#walSeen = 0;
    await this.#folded();
  }

  /**
   * Counts a checkpoint that folded the rows committed since the one before (#sinceCheckpoint): the
   * store's, or DuckDB's own at its threshold (#sawWal). Where they went depends on DuckDB's merges of
   * neighbouring row groups, which follow rules of their own (DuckDB 1.5.6, rows in row groups
   * before -> after a checkpoint: [24576] + 98,304 -> [122880]; [100000] + 30,000 -> [100000, 30000];
   * [24576, 114688] + 50,000 -> [122880, 66384]), so the last row group's rows are read from the file
   * (one small query a checkpoint) rather than worked out. A row group that another batch as large
   * as the last one would not fit in counts as full: new rows start a row group of their own beside
   * it (a row group of 120,000 rows after 10,000-row batches left open had the store checkpoint again
   * after the next batch, for a row group of 10,000 beside it: 21.2 instead of 20.4 file bytes a row,
   * and more CPU).
   */
  async #folded(): Promise<void> {
    this.#sinceCheckpoint = 0;
    try {
      const reader = await this.#writer.runAndReadAll(lastRowGroupSql);
      const rows = Number(reader.getRows()[0]?.[0] ?? 0);
      this.#openTail = rows + this.#lastBatchRows > ROW_GROUP_ROWS ? 0 : rows;
    } catch {
      this.#openTail = 0; // not known: the row group is left as it is, as at open
    }
  }

  /**
   * Before a batch: sets DuckDB's checkpoint_threshold for the disk's room (ceilingFor), so that on a
   * small disk DuckDB checkpoints at a WAL the disk can fold instead of letting it grow towards a row
   * group's, and notes a checkpoint DuckDB ran itself since the last batch (#sawWal). Never throws: a
   * reading that fails sets DuckDB's 16 MiB (the room is not known), and a SET that fails leaves the
   * threshold as it was; either is logged once.
   */
  async #readDisk(): Promise<void> {
    let ceiling = CHECKPOINT_FLOOR_BYTES;
    try {
      const reading = this.diskReading();
      await this.#sawWal(reading.wal);
      ceiling = ceilingFor(reading.free + reading.wal);
    } catch (error) {
      // The disk's room is not known: main's behaviour (DuckDB's 16 MiB, no row-group checkpoint)
      // rather than a WAL that may outgrow it.
      this.#readDiskFailed(error);
    }
    if (ceiling === this.#ceiling) return;
    try {
      await this.#writer.run(`SET checkpoint_threshold = '${ceiling >> 20}MiB'`);
      this.#ceiling = ceiling;
    } catch (error) {
      if (isInvalidation(error)) this.#invalid = true;
      else this.#readDiskFailed(error);
    }
  }

  #readDiskFailed(error: unknown): void {
    if (this.#readDiskFailing) return;
    this.#readDiskFailing = true;
    this.log.warn(
      { code: 'PW_ERR_STORE_IO', store: this.kind, path: this.path, err: describeError(error) },
      "could not read the disk's room or set DuckDB's checkpoint threshold for it",
    );
  }

  /** The WAL's size now (0 when there is none, or it cannot be read). */
  #walBytes(): number {
    try {
      return existsSync(`${this.path}.wal`) ? statSync(`${this.path}.wal`).size : 0;
    } catch {
      return 0;
    }
  }

  /**
   * A WAL smaller than at the last reading was folded by a checkpoint the store did not run: DuckDB's
   * own, when a commit (a batch's, or the rollup refresh's) crossed its checkpoint_threshold.
   */
  async #sawWal(bytes: number): Promise<void> {
    const folded = bytes < this.#walSeen;
    this.#walSeen = bytes;
    if (folded) await this.#folded();
  }

  /**
   * Opens the invalidated database again (replaying its WAL) and returns the rows of `batch` it does
   * not hold yet. A retried batch is the failed one plus what was appended since; the failed one is
   * wholly in the file or not at all, and ids grow with append order, so the rows after the file's
   * highest id are the ones to write (from the index returned on). Throws while it cannot be
   * opened: the batch is retried.
   */
  async #reopenedRest(batch: readonly number[]): Promise<number> {
    await this.#reopen();
    const last = await this.#writer.runAndReadAll(`SELECT coalesce(max(id), 0) FROM ${table}`);
    return firstAfterId(batch, Number(last.getRows()[0]?.[0] ?? 0));
  }

  /**
   * Closes the invalidated database and opens it again, from the write path only (batches and the
   * quiet checkpoint run one at a time, so nothing writes meanwhile); reads wait for it.
   */
  #reopen(): Promise<void> {
    this.#reopening ??= (async () => {
      await Promise.allSettled([...this.#reads]);
      if (this.#invalid) {
        closeQuietly(this.#writer, this.#instance);
        const instance = await DuckDBInstance.create(this.path, instanceOptions);
        try {
          this.#writer = await instance.connect();
        } catch (error) {
          instance.closeSync();
          throw error;
        }
        this.#instance = instance;
        this.#invalid = false;
        // The WAL replayed holds rows not counted here; DuckDB's ceiling bounds it. The open set
        // DuckDB's threshold back to CHECKPOINT_CEILING_BYTES; the next batch lowers it again.
        this.#sinceCheckpoint = 0;
        this.#openTail = 0;
        this.#walSeen = 0;
        this.#ceiling = CHECKPOINT_CEILING_BYTES;
        this.log.warn(
          { code: 'PW_ERR_STORE_IO', store: this.kind, path: this.path },
          'database opened again after a fatal error',
        );
      }
    })().finally(() => {
      this.#reopening = null;
    });
    return this.#reopening;
  }

  protected async readPage(query: NormalizedFlowQuery): Promise<FlowPage> {
    // The count and the page run side by side, each on its own connection.
    const [count, rows] = await Promise.all([
      this.#read(async (connection) => {
        const params: DuckDBValue[] = [];
        const total = await connection.runAndReadAll(
          `SELECT count(*) FROM ${table}${whereClause(query.conditions, params)}`,
          params,
        );
        return Number(total.getRows()[0]?.[0] ?? 0);
      }),
      query.limit === 0
        ? []
        : this.#read(async (connection) => {
            const params: DuckDBValue[] = [];
            const keyset = query.after === undefined ? [] : [afterSql(query.after, duckDialect(params))];
            const where = whereClause(query.conditions, params, keyset);
            // Two steps: the page's ids by a sort over the key columns alone, then the whole rows of
            // those ids. In one step DuckDB reads every column of every matching row before its
            // top-N (at 1M flows: 3x slower for a deep or sparse page). Ids are unique in a file.
            // One row more than the page, to know whether a next page exists.
            const page = await connection.runAndReadAll(
              `SELECT ${selectList} FROM ${table}
               WHERE id IN (SELECT id FROM ${table}${where}
                            ORDER BY ${newestFirstSql} LIMIT ${query.limit + 1} OFFSET ${query.offset})
               ORDER BY ${newestFirstSql}`,
              params,
            );
            return page.getRows().map((row) => storedFlowFromValues(row.map(fromDuck)));
          }),
    ]);
    return pageOf(rows, query, count);
  }

  protected async readStats(range: NormalizedStatsRange): Promise<FlowStats> {
    if (this.useRollup) {
      await this.#refreshRollup();
      const stats = await this.#read((connection) => this.#statsFromRollup(connection, range));
      if (stats !== undefined) {
        this.rollupReads++;
        return stats;
      }
    }
    return this.#read(async (connection) => {
      const params: DuckDBValue[] = [];
      const where = whereClause(range.conditions, params);
      let first = range.from ?? null;
      let last = range.to === undefined ? null : range.to - 1;
      if (first === null || last === null) {
        const bounds = await connection.runAndReadAll(
          `SELECT min(time_ms), max(time_ms) FROM ${table}${where}`,
          params,
        );
        const [min, max] = bounds.getRows()[0] ?? [];
        first ??= min === null || min === undefined ? null : Number(min);
        last ??= max === null || max === undefined ? null : Number(max);
      }
      const builder = new FlowStatsBuilder(chooseBucketMs(range.bucketMs, first, last), range.series);
      await groupStats(
        connection,
        builder,
        `SELECT coalesce(verdict, '${noneKey}') AS verdict, ${flowPathSql} AS path,
                coalesce(outcome, '${noneKey}') AS outcome,
                (time_ms // ${builder.bucketMs}) * ${builder.bucketMs} AS bucket,
                coalesce(bytes_up, 0) AS up, coalesce(bytes_down, 0) AS down,
                coalesce(gateway, '') AS gateway, 1 AS flows
         FROM ${table}${where}`,
        params,
      );
      return builder.build();
    });
  }

  /**
   * Statistics from the per-minute rollup (duckdb-rollup.ts), read in one transaction so the rollup
   * and the raw rows agree; undefined when it cannot answer exactly (a series bucket that is not whole
   * minutes, or a range without a whole minute).
   */
  async #statsFromRollup(
    connection: DuckDBConnection,
    range: NormalizedStatsRange,
  ): Promise<FlowStats | undefined> {
    if (range.series && range.bucketMs !== undefined && range.bucketMs % minuteMs !== 0) return undefined;
    await connection.run('BEGIN TRANSACTION');
    try {
      const params: DuckDBValue[] = [];
      const sources = statisticsSources(
        range,
        await lastRolledUpId(connection),
        table,
        (conditions, extra) => whereClause(conditions, params, extra),
        params,
      );
      if (sources === undefined) return undefined;
      let first = range.from ?? null;
      let last = range.to === undefined ? null : range.to - 1;
      if (first === null || last === null) {
        const bounds = await connection.runAndReadAll(
          `SELECT min(first_ms), max(last_ms) FROM (${sources})`,
          params,
        );
        const [min, max] = bounds.getRows()[0] ?? [];
        first ??= min === null || min === undefined ? null : Number(min);
        last ??= max === null || max === undefined ? null : Number(max);
      }
      const bucketMs = chooseBucketMs(range.bucketMs, first, last);
      if (range.series && bucketMs % minuteMs !== 0) return undefined;
      const builder = new FlowStatsBuilder(bucketMs, range.series);
      await groupStats(
        connection,
        builder,
        `SELECT verdict, path, outcome, (minute // ${bucketMs}) * ${bucketMs} AS bucket, up, down, gateway, flows
         FROM (${sources})`,
        params,
      );
      return builder.build();
    } finally {
      await connection.run('COMMIT');
    }
  }

  /** One rollup refresh at a time; a read waits for the one running and then runs its own. */
  #refreshRollup(): Promise<void> {
    const run = this.#rollupRefresh.then(() =>
      this.#read(async (connection) => {
        if (!this.#rollupCreated) await createRollup(connection);
        this.#rollupCreated = true;
        await refreshRollup(connection, table);
      }),
    );
    this.#rollupRefresh = run.catch(() => undefined);
    return run;
  }

  protected async readGroups(conditions: readonly FlowCondition[]): Promise<FlowGroup[]> {
    if (this.useRollup) {
      await this.#refreshRollup();
      const groups = await this.#read(async (connection) => {
        // One transaction: the rollup and the raw rows after it agree.
        await connection.run('BEGIN TRANSACTION');
        try {
          const params: DuckDBValue[] = [];
          const sources = exceptionGroupSources(
            conditions,
            await lastRolledUpId(connection),
            table,
            (only, extra) => whereClause(only, params, extra),
            params,
          );
          if (sources === undefined) return undefined;
          return await readFlowGroups(
            connection,
            `SELECT rule_id, name, sum(flows), sum(up)::DOUBLE, sum(down)::DOUBLE, max(last_start)
             FROM (${sources}) GROUP BY ALL`,
            params,
          );
        } finally {
          await connection.run('COMMIT');
        }
      });
      if (groups !== undefined) {
        this.rollupReads++;
        return groups;
      }
    }
    return this.#read(async (connection) => {
      const params: DuckDBValue[] = [];
      return readFlowGroups(
        connection,
        `SELECT rule_id, ${groupNameSql} AS name, count(*) AS flows, sum(coalesce(bytes_up, 0))::DOUBLE,
                sum(coalesce(bytes_down, 0))::DOUBLE, max(start_ms)
         FROM ${table}${whereClause(conditions, params)} GROUP BY ALL`,
        params,
      );
    });
  }

  /** Each read gets its own connection: DuckDB runs them in parallel, and none waits for a write. */
  async #read<T>(run: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
    const work = (async () => {
      if (this.#reopening !== null) await this.#reopening.catch(() => undefined);
      // Opened again by the next batch only: writes run one at a time, reads do not.
      if (this.#invalid)
        throw queryFailure(
          'DuckDB flow store query failed',
          new Error('the database was invalidated by a fatal error; it is opened again at the next write'),
        );
      const connection = await this.#instance.connect();
      try {
        return await run(connection);
      } catch (error) {
        if (isInvalidation(error)) this.#invalid = true; // opened again by the next batch
        throw queryFailure('DuckDB flow store query failed', error);
      } finally {
        connection.closeSync();
      }
    })();
    this.#reads.add(work);
    try {
      return await work;
    } finally {
      this.#reads.delete(work);
    }
  }

  /**
   * True when there is a WAL to fold and the disk has room for it (checkpointRoom), read just before
   * the checkpoint, on the write path (the same reading as before a batch, diskReading). A reading,
   * not a reservation: another process may still take the room.
   */
  #roomToCheckpoint(): boolean {
    try {
      const { free, wal } = this.diskReading();
      return wal > 0 && free >= this.checkpointRoom(wal);
    } catch {
      return false; // the folder cannot be read
    }
  }

  /**
   * Gives back what DuckDB's allocators keep free. First a checkpoint folds the WAL into the file, so
   * the rows appended since the last one (up to a row group's) no longer sit in the buffer pool
   * uncompressed. It runs on the writing connection between two batches, and only when the disk
   * has room for it (#checkpoint); a failed one is left to the next batch or close. It is queued in
   * the same turn as the `closing` check before it, so a close() begun meanwhile cannot run its own
   * checkpoint and free the database while this one runs. Then
   * setting the memory limit (to the same value) makes DuckDB evict down to it and flush its allocators: jemalloc's arenas are purged
   * and glibc's `malloc_trim(0)` runs, which returns the free pages of every glibc arena in the
   * process, Node's own included (DuckDB's BufferPool::SetLimit and Allocator::FlushAll). After a
   * load (docs/performance.md, Gateway, "Idle memory, session 6") that was 10-54 MB. Nothing happens
   * once close() has begun: close frees it all, and a connection opened while the database closes
   * can crash the process.
   */
  async releaseMemory(): Promise<void> {
    if (this.closing) return;
    // The buffered rows' columns back to their first size when nothing is buffered.
    this.#rows.release();
    await this.betweenWrites(() => this.#checkpoint(false));
    if (this.closing) return;
    await this.#read((connection) => connection.run(`SET memory_limit = '${memoryLimit}'`));
  }

  protected async release(): Promise<void> {
    await Promise.allSettled([...this.#reads]);
    try {
      // Folds the WAL into the database file so the next open does not replay it.
      await this.#writer.run('CHECKPOINT');
    } catch (error) {
      this.log.warn(
        { code: 'PW_ERR_STORE_IO', store: this.kind, err: describeError(error) },
        'checkpoint at close failed',
      );
    }
    if (this.#reopening !== null) await this.#reopening.catch(() => undefined);
    closeQuietly(this.#writer, this.#instance);
  }
}

/**
 * The index in a retried batch's `ids` (growing with append order) of the first id above `stored`,
 * the highest id the reopened database holds: the rows from there on are the ones it does not hold
 * (#reopenedRest); ids.length when there is none.
 */
export function firstAfterId(ids: readonly number[], stored: number): number {
  const first = ids.findIndex((id) => id > stored);
  return first < 0 ? ids.length : first;
}

/** DuckDB's words for a database a fatal error has invalidated (until it is opened again). */
function isInvalidation(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return message.startsWith('FATAL') || message.includes('database has been invalidated');
}

/** DuckDB's words for a CHECKPOINT refused while another connection's write transaction is open. */
function isBusy(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return message.includes('Cannot CHECKPOINT: there are other write transactions active');
}

/** Closes a connection and its database; either may have been closed by a failed reopen already. */
function closeQuietly(writer: DuckDBConnection, instance: DuckDBInstance): void {
  try {
    writer.closeSync();
  } catch {
    // closed already
  }
  try {
    instance.closeSync();
  } catch {
    // closed already
  }
}

/**
 * Runs the six groupings statistics need over `source` (columns verdict, path, outcome, bucket, up,
 * down, gateway, flows: raw flows with flows = 1, or rollup rows) in one pass, into `builder`.
 */
async function groupStats(
  connection: DuckDBConnection,
  builder: FlowStatsBuilder,
  source: string,
  params: DuckDBValue[],
): Promise<void> {
  const reader = await connection.runAndReadAll(
    `WITH f AS (${source})
     SELECT GROUPING(verdict, path, outcome, bucket, gateway) AS grouping_id, verdict, path, outcome,
            bucket, gateway, sum(flows) AS flows, sum(up)::DOUBLE AS up, sum(down)::DOUBLE AS down
     FROM f
     GROUP BY GROUPING SETS ((), (verdict), (path), (outcome), (bucket, path), (gateway))`,
    params,
  );
  for (const row of reader.getRows()) {
    const [grouping, verdict, path, outcome, bucket, gateway, flows, up, down] = row.map(fromDuck);
    const count = Number(flows);
    const bytesUp = Number(up ?? 0);
    const bytesDown = Number(down ?? 0);
    // GROUPING() sets one bit per column left out of the group, first column highest.
    switch (grouping) {
      case 0b11111:
        builder.addTotals(count, bytesUp, bytesDown);
        break;
      case 0b01111:
        builder.addVerdict(String(verdict), count);
        break;
      case 0b10111:
        builder.addPath(String(path), count, bytesUp, bytesDown);
        break;
      case 0b11011:
        builder.addOutcome(String(outcome), count);
        break;
      case 0b10101:
        if (bucket !== null) builder.addPoint(Number(bucket), String(path), count, bytesUp + bytesDown);
        break;
      case 0b11110:
        builder.addGateway(String(gateway), count, bytesUp, bytesDown);
        break;
    }
  }
}

/** Groups from SQL whose columns are (rule_id, name, flows, bytes up, bytes down, last start). */
async function readFlowGroups(
  connection: DuckDBConnection,
  sql: string,
  params: DuckDBValue[],
): Promise<FlowGroup[]> {
  const reader = await connection.runAndReadAll(sql, params);
  return sortFlowGroups(
    reader.getRows().map((row) => {
      const [ruleId, host, flows, bytesUp, bytesDown, lastSeen] = row.map(fromDuck);
      return {
        ruleId: ruleId === null ? null : String(ruleId),
        host: host === null ? null : String(host),
        flows: Number(flows),
        bytesUp: Number(bytesUp ?? 0),
        bytesDown: Number(bytesDown ?? 0),
        lastSeen: lastSeen === null ? null : Number(lastSeen),
      };
    }),
  );
}

function fromDuck(value: DuckDBValue): ColumnValue {
  if (value === null || typeof value === 'string' || typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  return String(value);
}

/** DuckDB's SQL for the store-neutral conditions; every value is a bound parameter. */
function whereClause(
  conditions: readonly FlowCondition[],
  params: DuckDBValue[],
  extra: readonly string[] = [],
): string {
  return whereSql(conditions, duckDialect(params), extra);
}

function duckDialect(params: DuckDBValue[]): SqlDialect {
  return {
    value: (value) => {
      params.push(value);
      return typeof value === 'number' ? `$${params.length}::BIGINT` : `$${params.length}`;
    },
    contains: (column, text) => `contains(lower(${column}), ${text})`,
  };
}
