// The ClickHouse flow store: batches go to a (possibly Distributed) table over the HTTP interface with
// @clickhouse/client. While inserts fail, batches go to a spool folder on disk and are replayed in
// order once ClickHouse answers; a replayed batch first asks which of its ids are stored already, so a
// batch whose first insert landed (or half landed across shards) is not stored twice. Queries,
// statistics and groups run as SQL in ClickHouse. See docs/scale-out.md for the guarantee.
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { type ClickHouseClient, ClickHouseError, ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { PathwardenError } from '../errors.js';
import {
  BufferedFlowStore,
  describeError,
  type FlowStoreOptions,
  queryFailure,
  StoreIoError,
} from './buffer.js';
import {
  backfillRollup,
  exceptionGroupSources,
  rollupCovers,
  rollupDdl,
  rollupNames,
  statisticsSources,
} from './clickhouse-rollup.js';
import { insertRowsOf, maxDateTime, nativeChunks } from './clickhouse-rows.js';
import { checkIdentifier, clickhouseColumns, mergeTreeDdl } from './clickhouse-schema.js';
import { type ColumnValue, flowPathSql, noneKey, storedColumns, storedFlowFromValues } from './columns.js';
import { minuteMs } from './duckdb-rollup.js';
import {
  afterSql,
  chooseBucketMs,
  type FlowCondition,
  type FlowPosition,
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
import { Spool, type SpooledBatch, type SpoolFormat, type SpoolHeader, type SpoolWriter } from './spool.js';
import type { FlowGroup, FlowPage, FlowStats, StoredFlow } from './store.js';

export interface ClickHouseStoreConfig {
  /** HTTP interface, e.g. http://127.0.0.1:8123 (user and password may be in the URL). */
  url: string;
  database: string;
  table: string;
  flushIntervalMs: number;
  /** Folder for batches ClickHouse has not acknowledged. */
  spool: string;
  /** Bytes the spool may hold; beyond, batches are dropped and counted (default 1 GiB). */
  spoolMaxBytes?: number;
  /** Create the database and a single-server MergeTree table when missing. */
  createTables: boolean;
  /** One HTTP request's timeout (default 30 s). */
  requestTimeoutMs?: number;
}

/** Told the spool's size whenever it changes (GatewayMetrics implements it). */
export interface SpoolObserver {
  storeSpooled(batches: number, bytes: number): void;
}

export interface ClickHouseStoreOptions extends FlowStoreOptions {
  observer?: FlowStoreOptions['observer'] & Partial<SpoolObserver>;
  /** Replaces the spool's file writer (tests simulate a full disk with it). */
  spoolWriter?: SpoolWriter;
}

/** The longest wait between replay attempts while ClickHouse is away. */
const maxReplayBackoffMs = 5000;
/** Rows replayed in one insert at most (consecutive spooled batches are merged up to this). */
const replayGroupRows = 50_000;
/** Ids reserved on disk ahead of use, so a restart without ClickHouse never reuses a stored id. */
const idBlock = 1_000_000;

const selectList = storedColumns.map((column) => column.name).join(', ');

/** A ClickHouse string literal (backslash and quote escaped): the only way values enter SQL here. */
export function sqlString(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function sqlNumber(value: number): string {
  if (!Number.isSafeInteger(value)) throw new Error(`not a safe integer: ${value}`);
  return String(value);
}

/**
 * Server errors about the rows themselves (parse and type errors): retrying the same bytes can never
 * succeed. Codes from ClickHouse's ErrorCodes.cpp (stable across versions).
 */
const rejectedDataCodes = new Set(['6', '26', '27', '38', '41', '53', '69', '70', '72', '117', '131']);

/**
 * The server's error code when the failure is ClickHouse's answer (a bad table, a syntax error),
 * undefined for an outage (refused, reset, timed out). 18.16 words errors as `Code: 27, e.displayText()
 * = ...`, which the client does not parse into a ClickHouseError; current servers `Code: 27. DB::...`.
 */
export function serverErrorCode(error: unknown): string | undefined {
  if (error instanceof ClickHouseError) return error.code;
  const match = /^\s*Code: (\d+)[.,]/.exec(error instanceof Error ? error.message : String(error));
  return match?.[1];
}

function isRejectedData(error: unknown): boolean {
  return rejectedDataCodes.has(serverErrorCode(error) ?? '');
}

function isServerError(error: unknown): boolean {
  return serverErrorCode(error) !== undefined;
}

/**
 * Live inserts are Native (column blocks); spool files are TabSeparated (JSONEachRow ones spooled by
 * earlier versions stay replayable). The spool never holds binary rows: a failed batch is encoded
 * again as text. RowBinary (the live format before Native) is kept for the benchmark's comparison.
 */
export type InsertFormat = SpoolFormat | 'RowBinary' | 'Native';
export const spoolFormat: SpoolFormat = 'TabSeparated';

/** The id of one line of an insert body (second TabSeparated field, or a JSONEachRow line's `id`). */
export function idOfLine(line: string, format: SpoolFormat): number {
  if (format === 'JSONEachRow') return Number((JSON.parse(line) as { id: unknown }).id);
  const start = line.indexOf('\t') + 1;
  return Number(line.slice(start, line.indexOf('\t', start)));
}

/** The SQL of one flow table: inserts, id checks, pages, statistics and groups. */
export class ClickHouseFlowTable {
  readonly client: ClickHouseClient;
  readonly database: string;
  readonly table: string;
  readonly qualified: string;
  /** The per-minute rollup beside the table (clickhouse-rollup.ts): a MergeTree, or a Distributed one. */
  readonly rollup: string;
  /** Statistics and exception groups read the rollup where it is exact (false: always raw rows). */
  useRollup = true;
  /** Statistics and groups answered from the rollup so far (tests and benchmarks read it). */
  rollupReads = 0;
  #coverage: { covered: boolean; at: number } | undefined;
  /** Told the first time the coverage query fails (the store logs it); later failures are quiet. */
  onCoverageError: ((error: unknown) => void) | undefined;
  #coverageErrorTold = false;

  constructor(config: Pick<ClickHouseStoreConfig, 'url' | 'database' | 'table' | 'requestTimeoutMs'>) {
    this.database = checkIdentifier('database', config.database);
    this.table = checkIdentifier('table', config.table);
    this.qualified = `${this.database}.${this.table}`;
    this.rollup = `${this.database}.${rollupNames(this.table).rollup}`;
    this.client = createClient({
      url: config.url,
      request_timeout: config.requestTimeoutMs ?? 30_000,
      log: { level: ClickHouseLogLevel.OFF },
    });
  }

  async rows(sql: string): Promise<ColumnValue[][]> {
    const result = await this.client.query({
      query: sql,
      format: 'JSONCompact',
      // Numbers as JSON numbers (flow ids, counts and byte sums stay below 2^53).
      clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
    });
    const body = (await result.json()) as { data: ColumnValue[][] };
    return body.data;
  }

  async command(sql: string): Promise<void> {
    await this.client.command({ query: sql });
  }

  /** Creates the database and a single-server table when missing (a Distributed one is the operator's). */
  async create(): Promise<void> {
    await this.command(`CREATE DATABASE IF NOT EXISTS ${this.database}`);
    await this.command(mergeTreeDdl(this.database, this.table));
  }

  /**
   * Creates the rollup of a single-server table when missing (its tables and views). The rollup of
   * a table created with it covers it from the first row; one that held rows before needs a backfill
   * (backfillRollup, `pathwarden store rollup`) before readers use it.
   */
  async createRollup(): Promise<boolean> {
    if (!(await this.holdsRows())) return false;
    for (const statement of rollupDdl(this.database, this.table)) await this.command(statement);
    return true;
  }

  /** Whether the table is a MergeTree (it holds the rows), not a Distributed table over shards. */
  async holdsRows(): Promise<boolean> {
    const [row] = await this.rows(
      `SELECT engine FROM system.tables WHERE database = ${sqlString(this.database)} AND name = ${sqlString(this.table)}`,
    );
    return String(row?.[0] ?? '').endsWith('MergeTree');
  }

  /**
   * Whether every shard's rollup holds a backfill marker. Asked again after a second while not
   * covered and after a minute while covered (a rollup dropped meanwhile fails a read, which then
   * asks at once: see #fromRollup).
   */
  async rollupCovers(now = Date.now()): Promise<boolean> {
    const coverage = this.#coverage;
    if (coverage !== undefined && now - coverage.at < (coverage.covered ? 60_000 : 1000))
      return coverage.covered;
    let covered: boolean;
    try {
      covered = await rollupCovers(this);
    } catch (error) {
      // Any failure (a shard's local rollup missing, a table that is not a rollup, the server away)
      // means not covered: the raw rows answer, and statistics keep working.
      covered = false;
      if (!this.#coverageErrorTold) {
        this.#coverageErrorTold = true;
        this.onCoverageError?.(error);
      }
    }
    this.#coverage = { covered, at: now };
    return covered;
  }

  /** Forgets the cached coverage (the next read asks the server). */
  forgetRollupCoverage(): void {
    this.#coverage = undefined;
  }

  /**
   * Runs a rollup read when the rollup may be used; undefined (read the raw rows instead) when it
   * may not, or when the read says the rollup is gone.
   */
  async #fromRollup<T>(read: () => Promise<T | undefined>): Promise<T | undefined> {
    if (!this.useRollup || !(await this.rollupCovers())) return undefined;
    try {
      const result = await read();
      if (result !== undefined) this.rollupReads++;
      return result;
    } catch (error) {
      // UNKNOWN_TABLE: the rollup was dropped since coverage was checked.
      if (serverErrorCode(error) !== '60') throw error;
      this.forgetRollupCoverage();
      return undefined;
    }
  }

  /** Undefined when the table has pathwarden's columns; else what it has (empty when missing). */
  async columnMismatch(): Promise<string | undefined> {
    const rows = await this.rows(
      `SELECT name, type FROM system.columns WHERE database = ${sqlString(this.database)} AND table = ${sqlString(this.table)}`,
    );
    const found = rows.map(([name, type]) => `${String(name)} ${String(type)}`);
    const expected = clickhouseColumns.map((column) => `${column.name} ${column.type}`);
    return found.join(',') === expected.join(',') ? undefined : found.join(', ');
  }

  async lastId(gateway: string): Promise<number> {
    const [row] = await this.rows(
      `SELECT max(id) FROM ${this.qualified} WHERE gateway = ${sqlString(gateway)}`,
    );
    return Number(row?.[0] ?? 0);
  }

  /**
   * Inserts rows in `format` (the whole body, or its chunks streamed as they are built).
   * `insert_distributed_sync` makes a Distributed table answer only once every shard has its rows, so
   * an acknowledged batch is readable and a failed one is checkable.
   */
  async insert(body: string | Iterable<Buffer>, queryId: string, format: InsertFormat): Promise<void> {
    // exec, not insert(): the body is text in `format` already, which insert() would encode again.
    const result = await this.client.exec({
      query: `INSERT INTO ${this.qualified} FORMAT ${format}`,
      values: Readable.from(typeof body === 'string' ? [Buffer.from(body)] : body),
      query_id: queryId,
      clickhouse_settings: { insert_distributed_sync: 1 },
    });
    result.stream.resume();
    await finished(result.stream);
  }

  /** Whether a query whose id starts with `prefix` (or one started by it) still runs on this server. */
  async running(prefix: string): Promise<boolean> {
    // substring(), not startsWith(): 18.16 has no startsWith.
    const test = (column: string) =>
      `substring(${column}, 1, ${Buffer.byteLength(prefix)}) = ${sqlString(prefix)}`;
    const [row] = await this.rows(
      `SELECT count() FROM system.processes WHERE ${test('query_id')} OR ${test('initial_query_id')}`,
    );
    return Number(row?.[0] ?? 0) > 0;
  }

  /** Ids of `gateway` between `firstId` and `lastId` the table holds already. */
  async storedIds(gateway: string, firstId: number, lastId: number): Promise<Set<number>> {
    const rows = await this.rows(
      `SELECT DISTINCT id FROM ${this.qualified} WHERE gateway = ${sqlString(gateway)} AND id >= ${sqlNumber(firstId)} AND id <= ${sqlNumber(lastId)}`,
    );
    return new Set(rows.map(([id]) => Number(id)));
  }

  /**
   * A page newest first, in two steps. The sort key is ascending event_time and 18.16 cannot read it
   * backwards for ORDER BY ... DESC LIMIT, so the page's positions (time, id, gateway: three narrow
   * columns) are read from a recent window of event_time first (primary-key ranges: only those
   * parts and granules are read), widened 16 times per round until the window holds the page; the
   * last round has no lower bound (flows without a time). Then the page's rows are read by their
   * positions. Sorting only the positions keeps a deep offset's sort small: sorting whole rows held
   * every row of the window in memory, which at 10M flows went past the server's max_memory_usage
   * for offset=500000 (Code 241).
   */
  async page(query: NormalizedFlowQuery, now = Date.now()): Promise<FlowPage> {
    const where = whereClause(query.conditions);
    const [total] = await this.rows(`SELECT count() FROM ${this.qualified}${where}`);
    const count = Number(total?.[0] ?? 0);
    // Nothing to read at or past the end: without this, every window and then the whole table
    // were sorted only to answer empty (8.5 s at 300,000 flows for offset=500000).
    if (query.limit === 0 || (query.after === undefined && query.offset >= count)) {
      return pageOf([], query, count);
    }
    const keyset: string[] = [];
    let top = Math.floor(now / 1000);
    const { after } = query;
    if (after !== undefined) {
      keyset.push(afterSql(after, clickhouseDialect));
      // Flows after the cursor are no later than its second (or have no time: event_time 0).
      const second = after.time === null ? 0 : clampSeconds(Math.floor(after.time / 1000));
      keyset.push(`event_time <= toDateTime(${second})`);
      top = second;
    }
    const time = query.conditions.find((condition) => condition.kind === 'time');
    if (time?.to !== undefined) top = Math.min(top, Math.floor((time.to - 1) / 1000));
    const floor = time?.from === undefined ? 0 : Math.floor(time.from / 1000);
    const read = async (bounds: string[]) =>
      positionsOf(
        await this.rows(
          `SELECT time_ms, id, gateway FROM ${this.qualified}${whereClause(query.conditions, [...keyset, ...bounds])}
           ORDER BY ${newestFirstSql} LIMIT ${query.offset}, ${query.limit + 1}`,
        ),
      );
    for (let window = firstWindowSeconds; after?.time !== null; window *= 16) {
      const lowest = top - window;
      if (lowest <= floor || lowest <= 0 || window > maxWindowSeconds) break;
      const positions = await read([`event_time >= toDateTime(${clampSeconds(lowest)})`]);
      if (positions.length > query.limit) return pageOf(await this.flowsAt(positions), query, count);
    }
    return pageOf(await this.flowsAt(await read([])), query, count);
  }

  /**
   * The flows at `positions` (newest first, as the positions are). Bounded by the positions'
   * event_time, so only the parts and granules of those seconds are read; a position without a
   * time drops the bound (its event_time is 0 or, past DateTime's range, its end).
   */
  async flowsAt(positions: readonly FlowPosition[]): Promise<StoredFlow[]> {
    if (positions.length === 0) return [];
    const bounds: string[] = [];
    if (positions.every((position) => position.time !== null)) {
      const seconds = positions.map((position) => clampSeconds(Math.floor((position.time as number) / 1000)));
      bounds.push(
        `event_time >= toDateTime(${Math.min(...seconds)})`,
        `event_time <= toDateTime(${Math.max(...seconds)})`,
      );
    }
    const keys = positions
      .map((position) => `(${sqlString(position.gateway)}, ${sqlNumber(position.id)})`)
      .join(', ');
    const rows = await this.rows(
      `SELECT ${selectList} FROM ${this.qualified}
       WHERE ${[...bounds, `(gateway, id) IN (${keys})`].join(' AND ')}
       ORDER BY ${newestFirstSql}`,
    );
    return rows.map(storedFlowFromValues);
  }

  async stats(range: NormalizedStatsRange): Promise<FlowStats> {
    const rolled = await this.#fromRollup(() => this.#statsFromRollup(range));
    if (rolled !== undefined) return rolled;
    const where = whereClause(range.conditions);
    let first = range.from ?? null;
    let last = range.to === undefined ? null : range.to - 1;
    if (first === null || last === null) {
      const [bounds] = await this.rows(`SELECT min(time_ms), max(time_ms) FROM ${this.qualified}${where}`);
      const [min, max] = bounds ?? [];
      first ??= typeof min === 'number' ? min : null;
      last ??= typeof max === 'number' ? max : null;
    }
    const builder = new FlowStatsBuilder(chooseBucketMs(range.bucketMs, first, last), range.series);
    // 18.16 has no GROUPING SETS: one grouping by every key, folded into the totals here.
    // Without a series (the live ticks) there is no bucket to group by: far fewer groups.
    const bucketSql = range.series ? bucketOf('time_ms', builder.bucketMs) : 'NULL';
    addStatsRows(
      builder,
      await this.rows(
        `SELECT ifNull(verdict, '${noneKey}') AS v, ${flowPathSql} AS p, ifNull(outcome, '${noneKey}') AS o,
                gateway, ${bucketSql} AS b,
                count(), toFloat64(sum(ifNull(bytes_up, 0))), toFloat64(sum(ifNull(bytes_down, 0)))
         FROM ${this.qualified}${where} GROUP BY v, p, o, gateway, b`,
      ),
    );
    return builder.build();
  }

  /**
   * Statistics from the rollup's whole minutes and the raw rows of the partial minutes at the range's
   * ends (clickhouse-rollup.ts); undefined when that cannot be exact (a series bucket that is not
   * whole minutes, or a range without a whole minute).
   */
  async #statsFromRollup(range: NormalizedStatsRange): Promise<FlowStats | undefined> {
    if (range.series && range.bucketMs !== undefined && range.bucketMs % minuteMs !== 0) return undefined;
    const sources = statisticsSources(range, this.qualified, this.rollup, whereClause);
    if (sources === undefined) return undefined;
    let first = range.from ?? null;
    let last = range.to === undefined ? null : range.to - 1;
    if (first === null || last === null) {
      const [bounds] = await this.rows(
        `SELECT min(lo), max(hi), count() FROM (${sources}) WHERE isNotNull(m)`,
      );
      const [min, max, rows] = bounds ?? [];
      const some = Number(rows ?? 0) > 0;
      first ??= some ? Number(min) : null;
      last ??= some ? Number(max) : null;
    }
    const bucketMs = chooseBucketMs(range.bucketMs, first, last);
    if (range.series && bucketMs % minuteMs !== 0) return undefined;
    const builder = new FlowStatsBuilder(bucketMs, range.series);
    addStatsRows(
      builder,
      await this.rows(
        `SELECT v, p, o, g, ${range.series ? bucketOf('m', bucketMs) : 'NULL'} AS b,
                sum(f), toFloat64(sum(u)), toFloat64(sum(d))
         FROM (${sources}) GROUP BY v, p, o, g, b`,
      ),
    );
    return builder.build();
  }

  async groups(conditions: readonly FlowCondition[]): Promise<FlowGroup[]> {
    const sources = exceptionGroupSources(conditions, this.qualified, this.rollup, whereClause);
    const rolled =
      sources === undefined
        ? undefined
        : await this.#fromRollup(async () =>
            flowGroupsOf(
              await this.rows(
                `SELECT r, n, sum(f), toFloat64(sum(u)), toFloat64(sum(d)), max(s)
                 FROM (${sources}) GROUP BY r, n`,
              ),
            ),
          );
    if (rolled !== undefined) return rolled;
    return flowGroupsOf(
      await this.rows(
        `SELECT rule_id, ${groupNameSql} AS name, count(), toFloat64(sum(ifNull(bytes_up, 0))),
                toFloat64(sum(ifNull(bytes_down, 0))), max(start_ms)
         FROM ${this.qualified}${whereClause(conditions)} GROUP BY rule_id, name`,
      ),
    );
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

/**
 * The start of the bucket of `column` (ms), rounded down also before 1970 as bucketStart() does;
 * NULL for NULL.
 */
function bucketOf(column: string, bucket: number): string {
  return `if(isNull(${column}), NULL, intDiv(${column}, ${bucket}) * ${bucket}
            - if(${column} < 0 AND ${column} % ${bucket} != 0, ${bucket}, 0))`;
}

/** Rows of (verdict, path, outcome, gateway, bucket, flows, up, down) into `builder`. */
function addStatsRows(builder: FlowStatsBuilder, rows: readonly ColumnValue[][]): void {
  for (const [verdict, path, outcome, gateway, start, flows, up, down] of rows) {
    const count = Number(flows);
    const bytesUp = Number(up ?? 0);
    const bytesDown = Number(down ?? 0);
    builder.addTotals(count, bytesUp, bytesDown);
    builder.addVerdict(String(verdict), count);
    builder.addPath(String(path), count, bytesUp, bytesDown);
    builder.addOutcome(String(outcome), count);
    builder.addGateway(String(gateway), count, bytesUp, bytesDown);
    if (start !== null && start !== undefined)
      builder.addPoint(Number(start), String(path), count, bytesUp + bytesDown);
  }
}

/** Groups from rows of (rule_id, name, flows, up, down, last start), most flows first. */
function flowGroupsOf(rows: readonly ColumnValue[][]): FlowGroup[] {
  return sortFlowGroups(
    rows.map(([ruleId, host, flows, bytesUp, bytesDown, lastSeen]) => ({
      ruleId: ruleId === null ? null : String(ruleId),
      host: host === null ? null : String(host),
      flows: Number(flows),
      bytesUp: Number(bytesUp ?? 0),
      bytesDown: Number(bytesDown ?? 0),
      lastSeen: lastSeen === null || lastSeen === undefined ? null : Number(lastSeen),
    })),
  );
}

/** The first window of event_time a page is looked for in, and the widest before reading all. */
const firstWindowSeconds = 60;
const maxWindowSeconds = 60 * 16 ** 6;

/** Positions from rows of (time_ms, id, gateway). */
function positionsOf(rows: readonly ColumnValue[][]): FlowPosition[] {
  return rows.map(([time, id, gateway]) => ({
    time: time === null || time === undefined ? null : Number(time),
    id: Number(id),
    gateway: String(gateway),
  }));
}

function clampSeconds(seconds: number): number {
  return Math.min(Math.max(seconds, 0), maxDateTime);
}

/** ClickHouse's SQL for the store-neutral conditions: escaped literals (18.16 has no parameters). */
export function whereClause(conditions: readonly FlowCondition[], extra: readonly string[] = []): string {
  return whereSql(conditions, clickhouseDialect, extra);
}

const clickhouseDialect: SqlDialect = {
  value: (value) => (typeof value === 'number' ? sqlNumber(value) : sqlString(value)),
  contains: (column, text) => `positionUTF8(lowerUTF8(ifNull(${column}, '')), ${text}) > 0`,
  // time_ms is exact; bounds on event_time (whole seconds, the sort key) let ClickHouse skip parts.
  timeBounds: (from, to) => [
    ...(from === undefined
      ? []
      : [`event_time >= toDateTime(${Math.min(Math.floor(from / 1000), maxDateTime)})`]),
    ...(to === undefined
      ? []
      : [`event_time <= toDateTime(${Math.min(Math.floor((to - 1) / 1000), maxDateTime)})`]),
  ],
};

function openError(config: ClickHouseStoreConfig, reason: string, cause?: unknown): PathwardenError {
  return new PathwardenError(
    'PW_ERR_STORE_OPEN',
    `cannot open ClickHouse flow store ${config.url} ${config.database}.${config.table}: ${reason}`,
    cause === undefined ? {} : { cause },
  );
}

/**
 * Opens the store for gateway `gateway`. When ClickHouse does not answer, the store opens anyway and
 * spools; a table of another shape, or a missing one with createTables false, fails with
 * PW_ERR_STORE_OPEN.
 */
export async function openClickHouseFlowStore(
  config: ClickHouseStoreConfig,
  gateway: string,
  options: ClickHouseStoreOptions = {},
): Promise<ClickHouseFlowStore> {
  const spool = Spool.open(config.spool, { maxBytes: config.spoolMaxBytes, writeFile: options.spoolWriter });
  const table = new ClickHouseFlowTable(config);
  table.onCoverageError = (error) =>
    options.log?.warn(
      { code: 'PW_ERR_STORE_IO', store: 'clickhouse', err: describeError(error) },
      'the per-minute rollup coverage cannot be read; statistics read the raw rows (logged once)',
    );
  let lastId: number;
  let ready = false;
  let backfill = false;
  try {
    await prepareTable(table, config);
    ready = true;
    lastId = Math.max(await table.lastId(gateway), spool.lastId);
    backfill = config.createTables && (await table.holdsRows());
  } catch (error) {
    if (error instanceof PathwardenError || isServerError(error)) {
      await table.close();
      throw error instanceof PathwardenError ? error : openError(config, describeError(error), error);
    }
    // ClickHouse is away: ids continue after the reserved block, or after the time when none is on
    // disk (a new spool folder): ms * 1000 stays above ids assigned earlier unless they averaged
    // more than a million flows a second since.
    lastId = Math.max(spool.reservedIds() ?? Date.now() * 1000, spool.lastId);
    (options.log ?? { warn: () => undefined }).warn(
      { code: 'PW_ERR_STORE_IO', store: 'clickhouse', err: describeError(error), spool: config.spool },
      'ClickHouse does not answer; flows are spooled until it does',
    );
  }
  for (const file of spool.rejected) {
    options.log?.warn(
      { code: 'PW_ERR_STORE_RECORD_INVALID', file },
      `${file}: not a spooled batch; moved aside`,
    );
  }
  const store = new ClickHouseFlowStore(table, spool, gateway, lastId, ready, config, options);
  // In the background: the gateway serves at once (readers use the raw rows until it covers).
  if (backfill) store.rollupBackfill = backfillAtOpen(table, options, store.stopping);
  return store;
}

/**
 * The rollup of a table this store creates is backfilled after open, in the background, when it
 * does not cover the table yet (a table from a version before the rollup: its rows are folded in
 * once; a new one gets its marker). A failure is logged and readers keep reading the raw rows.
 * Closing the store stops its wait (the staging table, the backfill's lock, is dropped).
 */
async function backfillAtOpen(
  table: ClickHouseFlowTable,
  options: ClickHouseStoreOptions,
  stopping: () => boolean,
): Promise<void> {
  try {
    if (await table.rollupCovers()) return;
    const result = await backfillRollup(table, { stopping });
    table.forgetRollupCoverage();
    if (result.status === 'done' && result.rows > 0) {
      options.log?.warn(
        { code: 'PW_ERR_STORE_IO', store: 'clickhouse', rows: result.rows, gateways: result.gateways },
        'the per-minute rollup was backfilled with the flows stored before it existed',
      );
    }
  } catch (error) {
    options.log?.warn(
      { code: 'PW_ERR_STORE_IO', store: 'clickhouse', err: describeError(error) },
      'the per-minute rollup could not be backfilled; statistics read the raw rows until `pathwarden store rollup` has run',
    );
  }
}

async function prepareTable(table: ClickHouseFlowTable, config: ClickHouseStoreConfig): Promise<void> {
  if (config.createTables) await table.create();
  const mismatch = await table.columnMismatch();
  if (mismatch === '') throw openError(config, 'the table does not exist (createTables is false)');
  if (mismatch !== undefined) {
    throw openError(config, `the table has other columns than this pathwarden writes (found: ${mismatch})`);
  }
  if (config.createTables) await table.createRollup();
}

export class ClickHouseFlowStore extends BufferedFlowStore {
  readonly kind = 'clickhouse';
  readonly gateway: string;
  readonly spool: Spool;
  readonly #table: ClickHouseFlowTable;
  readonly #config: ClickHouseStoreConfig;
  readonly #options: ClickHouseStoreOptions;
  readonly #replayTimer: NodeJS.Timeout;
  #ready: boolean;
  #reserved: number;
  #serial: Promise<unknown> = Promise.resolve();
  #replayAt = 0;
  #backoffMs: number;
  #outage = false;
  #closed = false;
  /** The rollup backfill started at open (settled at once when there is none): tests await it. */
  rollupBackfill: Promise<void> = Promise.resolve();
  /** Whether the store is closing (the background backfill stops waiting). */
  readonly stopping = (): boolean => this.#closed;

  constructor(
    table: ClickHouseFlowTable,
    spool: Spool,
    gateway: string,
    lastId: number,
    ready: boolean,
    config: ClickHouseStoreConfig,
    options: ClickHouseStoreOptions,
  ) {
    super(lastId, config.flushIntervalMs, { ...options, gateway });
    this.#table = table;
    this.spool = spool;
    this.gateway = gateway;
    this.#config = config;
    this.#options = options;
    this.#ready = ready;
    this.#reserved = spool.reservedIds() ?? 0;
    this.#backoffMs = Math.max(config.flushIntervalMs, 100);
    this.#reportSpool();
    this.#replayTimer = setInterval(
      () => {
        if (this.spool.batches > 0 && Date.now() >= this.#replayAt)
          void this.#exclusive(() => this.#replay());
      },
      Math.max(50, Math.min(config.flushIntervalMs, 1000)),
    );
    this.#replayTimer.unref();
  }

  /** Runs `work` after every earlier insert, spool write and replay (they share the spool's order). */
  #exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#serial.then(work);
    this.#serial = run.catch(() => undefined);
    return run;
  }

  protected writeBatch(flows: readonly StoredFlow[]): Promise<void> {
    return this.#exclusive(async () => {
      const first = flows[0] as StoredFlow;
      const last = flows.at(-1) as StoredFlow;
      const header: SpoolHeader = {
        gateway: this.gateway,
        firstId: first.id,
        lastId: last.id,
        rows: flows.length,
        format: spoolFormat,
      };
      if (last.id > this.#reserved) {
        this.#reserved = last.id + idBlock;
        await this.spool.reserveIds(this.#reserved);
      }
      if (this.spool.batches === 0) {
        try {
          await this.#ensureReady();
          // The happy path is this one request: the Native body streams out as it is built,
          // nothing is asked before it and nothing is written to disk.
          await this.#table.insert(nativeChunks(this.gateway, flows), queryIdOf(header), 'Native');
          this.#recovered();
          return;
        } catch (error) {
          this.#failed(error);
        }
      }
      // Behind other spooled batches, or ClickHouse failed: to disk as text (encoded again from the
      // flows the batch holds), replayed in order. A spool
      // failure (full, or past spoolMaxBytes) throws, and the buffer retries and then drops it.
      await this.spool.push(header, insertRowsOf(this.gateway, flows));
      this.#reportSpool();
      if (Date.now() >= this.#replayAt) await this.#replay();
    });
  }

  async #ensureReady(): Promise<void> {
    if (this.#ready) return;
    await prepareTable(this.#table, this.#config);
    this.#ready = true;
  }

  /** Replays spooled batches oldest first until one fails (then waits, up to 5 s, before trying again). */
  async #replay(): Promise<void> {
    // After an outage the spool holds many small batches: they are replayed in groups (one check and
    // one insert per group); a group ClickHouse refuses is retried batch by batch to find the bad one.
    let single = false;
    let group = this.spool.peekGroup(single ? 1 : replayGroupRows);
    while (group.length > 0 && !this.#closed) {
      try {
        await this.#ensureReady();
        await this.#replayGroup(group);
        for (const batch of group) await this.spool.remove(batch);
        this.#reportSpool();
        this.#recovered();
        single = false;
      } catch (error) {
        if (!isRejectedData(error)) {
          this.#failed(error);
          return;
        }
        if (group.length === 1) await this.#reject(group[0] as SpooledBatch, error);
        else single = true;
      }
      group = this.spool.peekGroup(single ? 1 : replayGroupRows);
    }
  }

  /**
   * Stores the rows of `group` (consecutive spooled batches) the table does not hold yet. First it
   * waits until no insert of this gateway runs on the server any more (an earlier attempt that timed
   * out on our side may still be writing), then asks which ids are stored already.
   */
  async #replayGroup(group: readonly SpooledBatch[]): Promise<void> {
    const first = group[0] as SpooledBatch;
    const last = group.at(-1) as SpooledBatch;
    const header: SpoolHeader = {
      gateway: this.gateway,
      firstId: first.firstId,
      lastId: last.lastId,
      rows: 0,
      format: first.format,
    };
    if (await this.#table.running(queryIdPrefix(this.gateway))) {
      throw new StoreIoError(`an earlier insert of gateway ${this.gateway} is still running`);
    }
    const stored = await this.#table.storedIds(first.gateway, header.firstId, header.lastId);
    let body = '';
    for (const batch of group) body += await this.spool.read(batch);
    if (stored.size > 0) {
      body = body
        .split('\n')
        .filter((line) => line !== '' && !stored.has(idOfLine(line, header.format)))
        .map((line) => `${line}\n`)
        .join('');
    }
    if (body !== '') await this.#table.insert(body, queryIdOf(header), header.format);
  }

  /** A batch ClickHouse refuses whatever the retries would never store: set aside, counted, logged. */
  async #reject(batch: SpooledBatch, error: unknown): Promise<void> {
    const file = await this.spool.reject(batch);
    this.#reportSpool();
    this.#options.observer?.storeFlowsDropped(batch.rows);
    this.log.error(
      { code: 'PW_ERR_STORE_IO', store: this.kind, err: describeError(error), file, rows: batch.rows },
      'ClickHouse refuses the rows of a spooled batch; it is kept aside and its flows are counted as dropped',
    );
  }

  #failed(error: unknown): void {
    this.#backoffMs = this.#outage ? Math.min(this.#backoffMs * 2, maxReplayBackoffMs) : this.#backoffMs;
    this.#replayAt = Date.now() + this.#backoffMs;
    // UNKNOWN_TABLE, UNKNOWN_DATABASE: dropped while we ran; recreate (or check) before the next insert.
    if (serverErrorCode(error) === '60' || serverErrorCode(error) === '81') {
      this.#ready = false;
    }
    if (!this.#outage) {
      this.#outage = true;
      this.log.error(
        { code: 'PW_ERR_STORE_IO', store: this.kind, err: describeError(error), spool: this.spool.dir },
        'ClickHouse inserts fail; batches go to the spool and are replayed when it answers',
      );
    }
  }

  #recovered(): void {
    if (!this.#outage || this.spool.batches > 0) return;
    this.#outage = false;
    this.#backoffMs = Math.max(this.#config.flushIntervalMs, 100);
    this.#replayAt = 0;
    this.log.warn(
      { code: 'PW_ERR_STORE_IO', store: this.kind },
      'ClickHouse answers again; the spool is replayed',
    );
  }

  #reportSpool(): void {
    this.#options.observer?.storeSpooled?.(this.spool.batches, this.spool.bytes);
  }

  /** Statistics and exception groups read the per-minute rollup where it is exact (false: raw rows). */
  get useRollup(): boolean {
    return this.#table.useRollup;
  }

  set useRollup(use: boolean) {
    this.#table.useRollup = use;
  }

  /** Reads answered from the rollup so far. */
  get rollupReads(): number {
    return this.#table.rollupReads;
  }

  /** The flow table's SQL (tests and the backfill command use it). */
  get flowTable(): ClickHouseFlowTable {
    return this.#table;
  }

  protected readPage(query: NormalizedFlowQuery): Promise<FlowPage> {
    return this.#read(() => this.#table.page(query));
  }

  protected readStats(range: NormalizedStatsRange): Promise<FlowStats> {
    return this.#read(() => this.#table.stats(range));
  }

  protected readGroups(conditions: readonly FlowCondition[]): Promise<FlowGroup[]> {
    return this.#read(() => this.#table.groups(conditions));
  }

  async #read<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw queryFailure('ClickHouse flow store query failed', error);
    }
  }

  /** Closing stops replays at once: what is still spooled stays on disk for the next start. */
  override close(): Promise<void> {
    this.#closed = true;
    return super.close();
  }

  protected async release(): Promise<void> {
    clearInterval(this.#replayTimer);
    await this.#serial;
    await this.rollupBackfill;
    await this.#table.close();
  }
}

/** Every insert of a gateway has an id with this prefix, so a replay can see one still running. */
function queryIdPrefix(gateway: string): string {
  return `pathwarden-${gateway}-`;
}

function queryIdOf(batch: SpoolHeader): string {
  return `${queryIdPrefix(batch.gateway)}${batch.firstId}-${batch.lastId}`;
}
