// The ClickHouse store's per-minute rollup, on every shard: `<table>_minute`, an AggregatingMergeTree
// filled at insert time by materialized views over the flow table (flows, bytes and first/last time
// per minute, verdict, path, outcome and gateway; the exception flows per minute, gateway, rule and
// destination; in every row the first flow id it holds, so the first id each view saw per gateway is
// read from the rollup itself), and a backfill for the rows stored before the views existed. Readers use the rollup only where every shard holds
// the backfill's marker row; elsewhere they scan the raw rows. See docs/scale-out.md, "Per-minute
// rollup", for the reasoning behind the backfill's boundary.
import { PathwardenError } from '../errors.js';
import { type ColumnValue, flowPathSql, noneKey } from './columns.js';
import { exceptionsPageQuery, minuteMs, wholeMinutes } from './duckdb-rollup.js';
import { type FlowCondition, groupNameSql, type NormalizedStatsRange } from './query.js';

/** What a rollup row holds: statistics, exception groups, or the marker a finished backfill leaves. */
export const rollupKind = { stats: 0, exceptions: 1, marker: 2 } as const;

const int64Min = 'toInt64(-9223372036854775808)';
const int64Max = 'toInt64(9223372036854775807)';
/** `last_start` of rows without a start time (start_ms is a Float64; NULL is not a state). */
const noStart = "toFloat64('-inf')";
/**
 * The largest DateTime (clickhouse-rows.ts has the same; not imported from there: rows imports the
 * schema, which imports this module).
 */
const maxDateTime = 4_294_967_295;
/** The minute key of flows without a time (a key column cannot be Nullable in 18.16). */
export const noTimeMinute = int64Min;

/** The names beside flow table `table` (the same suffixes on a shard's local table). */
export function rollupNames(table: string) {
  return {
    rollup: `${table}_minute`,
    stage: `${table}_minute_backfill`,
    statsView: `${table}_minute_mv_stats`,
    exceptionsView: `${table}_minute_mv_exceptions`,
  };
}

function qualified(database: string, table: string): string {
  return database === '' ? table : `${database}.${table}`;
}

const rollupColumns = `  kind UInt8,
  minute Int64,
  verdict_key String,
  path_key String,
  outcome_key String,
  gateway String,
  rule_key String,
  rule_null UInt8,
  name_key String,
  name_null UInt8,
  flows AggregateFunction(sum, UInt64),
  up AggregateFunction(sum, Int64),
  down AggregateFunction(sum, Int64),
  first_ms AggregateFunction(min, Int64),
  last_ms AggregateFunction(max, Int64),
  last_start AggregateFunction(max, Float64),
  first_id AggregateFunction(min, UInt64)`;

const rollupKey =
  '(kind, minute, gateway, verdict_key, path_key, outcome_key, rule_key, rule_null, name_key, name_null)';

/** The minute a flow time falls in (floor, also before 1970), or noTimeMinute for flows without one. */
const minuteSql = `ifNull(toInt64(intDiv(time_ms, ${minuteMs}) * ${minuteMs}
    - if(time_ms < 0 AND time_ms % ${minuteMs} != 0, ${minuteMs}, 0)), ${noTimeMinute})`;

const sums = `sumState(toUInt64(1)) AS flows, sumState(ifNull(bytes_up, toInt64(0))) AS up,
  sumState(ifNull(bytes_down, toInt64(0))) AS down,
  minState(ifNull(time_ms, ${int64Max})) AS first_ms, maxState(ifNull(time_ms, ${int64Min})) AS last_ms`;

/**
 * The aggregate rows of the flows of `source` matching `where` (SQL, or ''): statistics or exception
 * groups. The materialized views run it on every inserted block; the backfill on the rows before.
 */
function rollupSelect(kind: 'stats' | 'exceptions', source: string, where: string): string {
  if (kind === 'stats') {
    return `SELECT toUInt8(${rollupKind.stats}) AS kind, ${minuteSql} AS minute,
  ifNull(verdict, '${noneKey}') AS verdict_key, ${flowPathSql} AS path_key,
  ifNull(outcome, '${noneKey}') AS outcome_key, gateway,
  '' AS rule_key, toUInt8(0) AS rule_null, '' AS name_key, toUInt8(0) AS name_null,
  ${sums}, maxState(${noStart}) AS last_start, minState(id) AS first_id
FROM ${source}${where === '' ? '' : ` WHERE ${where}`}
GROUP BY minute, verdict_key, path_key, outcome_key, gateway`;
  }
  const exceptionWhere = ["verdict = 'exception'", ...(where === '' ? [] : [`(${where})`])].join(' AND ');
  return `SELECT toUInt8(${rollupKind.exceptions}) AS kind, ${minuteSql} AS minute,
  '' AS verdict_key, '' AS path_key, '' AS outcome_key, gateway,
  ifNull(rule_id, '') AS rule_key, toUInt8(isNull(rule_id)) AS rule_null,
  ifNull(${groupNameSql}, '') AS name_key, toUInt8(isNull(${groupNameSql})) AS name_null,
  ${sums}, maxState(ifNull(start_ms, ${noStart})) AS last_start, minState(id) AS first_id
FROM ${source} WHERE ${exceptionWhere}
GROUP BY minute, gateway, rule_key, rule_null, name_key, name_null`;
}

/**
 * The rollup's DDL for a flow table that holds rows (a single server's MergeTree, or a shard's local
 * table): the rollup table, then the views that fill it at insert time. Each statement is idempotent
 * (IF NOT EXISTS). With `ttlDays`, the rollup forgets minutes as the flow table forgets rows; never
 * the backfill's marker rows (their expiry is pushed to the largest DateTime: a marker lost to the
 * TTL would make the next backfill fold the rows the views counted in again).
 */
export function rollupDdl(database: string, table: string, ttlDays?: number): string[] {
  const names = rollupNames(table);
  const source = qualified(database, table);
  const rollup = qualified(database, names.rollup);
  // Whole seconds within DateTime's range, as the flow table's event_time is (flows without a time: 0).
  const ttl =
    ttlDays === undefined
      ? ''
      : `\nTTL toDateTime(if(kind = ${rollupKind.marker}, ${maxDateTime - ttlDays * 86_400},
  least(greatest(intDiv(minute, 1000), 0), ${maxDateTime}))) + INTERVAL ${ttlDays} DAY`;
  return [
    `CREATE TABLE IF NOT EXISTS ${rollup} (\n${rollupColumns}\n)
ENGINE = AggregatingMergeTree
PARTITION BY tuple()
ORDER BY ${rollupKey}${ttl}`,
    `CREATE MATERIALIZED VIEW IF NOT EXISTS ${qualified(database, names.statsView)} TO ${rollup} AS
${rollupSelect('stats', source, '')}`,
    `CREATE MATERIALIZED VIEW IF NOT EXISTS ${qualified(database, names.exceptionsView)} TO ${rollup} AS
${rollupSelect('exceptions', source, '')}`,
  ];
}

/** The Distributed table over the shards' rollups (readers on the entry servers query it). */
export function distributedRollupDdl(
  database: string,
  table: string,
  cluster: string,
  localDatabase: string,
  localTable: string,
): string {
  const quote = (text: string) => `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  return `CREATE TABLE IF NOT EXISTS ${database}.${rollupNames(table).rollup} (\n${rollupColumns}\n)
ENGINE = Distributed(${cluster}, ${quote(localDatabase)}, ${quote(rollupNames(localTable).rollup)})`;
}

/** What the rollup code needs of a flow table: SQL in, rows out. */
export interface ClickHouseSql {
  readonly database: string;
  readonly table: string;
  rows(sql: string): Promise<ColumnValue[][]>;
  command(sql: string): Promise<void>;
}

function sqlString(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/**
 * Whether readers may use the rollup of `table`: it exists and every shard holds a backfill marker
 * (one shard for a MergeTree table; the shards of its cluster for a Distributed one).
 */
export async function rollupCovers(table: ClickHouseSql): Promise<boolean> {
  const names = rollupNames(table.table);
  const found = await table.rows(
    `SELECT name, engine, engine_full FROM system.tables
     WHERE database = ${sqlString(table.database)} AND name IN (${sqlString(table.table)}, ${sqlString(names.rollup)})`,
  );
  const engineOf = (name: string) => found.find((row) => row[0] === name);
  const flows = engineOf(table.table);
  if (flows === undefined || engineOf(names.rollup) === undefined) return false;
  let shards = 1;
  if (flows[1] === 'Distributed') {
    const cluster = /^Distributed\(\s*'?([A-Za-z0-9_]+)'?\s*,/.exec(String(flows[2]))?.[1];
    if (cluster === undefined) return false;
    const [row] = await table.rows(
      `SELECT count(DISTINCT shard_num) FROM system.clusters WHERE cluster = ${sqlString(cluster)}`,
    );
    shards = Number(row?.[0] ?? 0);
    if (shards === 0) return false;
  }
  const [markers] = await table.rows(
    `SELECT count(DISTINCT name_key) FROM ${table.database}.${names.rollup} WHERE kind = ${rollupKind.marker}`,
  );
  return Number(markers?.[0] ?? 0) >= shards;
}

export type BackfillResult =
  | { status: 'done'; gateways: number; rows: number }
  | { status: 'covered'; gateways: 0; rows: 0 };

export interface BackfillOptions {
  /** How long to wait for inserts that started before the views existed (default 10 minutes). */
  waitMs?: number;
  /** Polling interval while waiting (default 200 ms). */
  pollMs?: number;
  /** Asked while waiting: true stops the backfill (its staging table is dropped; run it again). */
  stopping?: () => boolean;
}

/**
 * Creates the rollup of `table` (a MergeTree: a single server's flow table or one shard's local
 * table) when missing, and folds the rows stored before its views existed into it, once:
 *
 * 1. Nothing to do when the rollup holds the marker of a finished backfill.
 * 2. The staging table `<table>_minute_backfill` is created without IF NOT EXISTS: it is the lock
 *    (a second backfill, or one that crashed, finds it and stops).
 * 3. Waits until every INSERT that started before the views existed has finished (their rows are
 *    in no view); then reads the highest id per gateway (M) and the server's time t1, waits until
 *    every INSERT started before t1 has finished (so the views have seen every row M saw that they
 *    will ever see), and reads, per view (statistics, exceptions), the first id it saw per gateway (L)
 *    from the rollup rows' first_id: the views are created one after another, and an INSERT feeds
 *    the views that existed when it started, so one view may have seen a batch another did not.
 * 4. The rows before the views are, per gateway, the ids below L (the views saw it), else the ids
 *    up to M (they saw none of it by t1: its later ids are higher, since a gateway's ids grow and it
 *    inserts its batches one after another). Their aggregates and the marker go to the staging table.
 * 5. ATTACH PARTITION ... FROM moves them into the rollup in one step (readers see all or nothing);
 *    the staging table is dropped.
 */
export async function backfillRollup(
  table: ClickHouseSql,
  options: BackfillOptions = {},
): Promise<BackfillResult> {
  // Names were checked as identifiers where `table` was made (ClickHouseFlowTable).
  const database = table.database;
  const names = rollupNames(table.table);
  const source = `${database}.${table.table}`;
  const rollup = `${database}.${names.rollup}`;
  const stage = `${database}.${names.stage}`;
  const [engine] = await table.rows(
    `SELECT engine FROM system.tables WHERE database = ${sqlString(database)} AND name = ${sqlString(table.table)}`,
  );
  if (engine === undefined || !String(engine[0]).endsWith('MergeTree')) {
    throw new PathwardenError(
      'PW_ERR_USAGE',
      `${source} is ${engine === undefined ? 'missing' : `a ${String(engine[0])} table`}: the rollup is backfilled on the MergeTree table that holds the rows (on a cluster, each shard's local table)`,
    );
  }
  for (const statement of rollupDdl(database, table.table)) await table.command(statement);
  const hasMarker = async () => {
    const [row] = await table.rows(`SELECT count() FROM ${rollup} WHERE kind = ${rollupKind.marker}`);
    return Number(row?.[0] ?? 0) > 0;
  };
  if (await hasMarker()) return { status: 'covered', gateways: 0, rows: 0 };
  try {
    await table.command(`CREATE TABLE ${stage} AS ${rollup}`);
  } catch (error) {
    if (/Code: 57\b|TABLE_ALREADY_EXISTS|already exists/.test(String(error))) {
      throw new PathwardenError(
        'PW_ERR_STORE_IO',
        `${stage} exists: another rollup backfill runs, or one was interrupted. If none runs, DROP TABLE ${stage} and run the backfill again`,
      );
    }
    throw error;
  }
  let attached = false;
  const boundsTable = `${stage}_bounds`;
  try {
    await table.command(`DROP TABLE IF EXISTS ${boundsTable}`);
    await table.command(
      `CREATE TABLE ${boundsTable} (kind UInt8, gateway String, bound UInt64) ENGINE = Memory`,
    );
    const waitMs = options.waitMs ?? 600_000;
    const pollMs = options.pollMs ?? 200;
    const [start] = await table.rows('SELECT toUInt32(now())');
    const stopping = options.stopping ?? (() => false);
    await waitForInsertsBefore(table, Number(start?.[0]), waitMs, pollMs, stopping);
    const highest = await table.rows(
      `SELECT gateway, max(id), toUInt32(now()) FROM ${source} GROUP BY gateway`,
    );
    const t1 = Number(highest[0]?.[2] ?? start?.[0]);
    await waitForInsertsBefore(table, t1, waitMs, pollMs, stopping);
    let gateways = 0;
    for (const kind of ['stats', 'exceptions'] as const) {
      // L per gateway for this view alone: views created one after another see different batches.
      const firstSeen = new Map(
        (
          await table.rows(
            `SELECT gateway, minMerge(first_id) FROM ${rollup} WHERE kind = ${rollupKind[kind]} GROUP BY gateway`,
          )
        ).map(([gateway, id]) => [String(gateway), Number(id)]),
      );
      const writers: string[] = [];
      const bounds: number[] = [];
      for (const [gateway, max] of highest) {
        const seen = firstSeen.get(String(gateway));
        const bound = seen === undefined ? Number(max) : Math.min(Number(max), seen - 1);
        if (bound < 0) continue;
        writers.push(String(gateway));
        bounds.push(bound);
      }
      if (kind === 'stats') gateways = writers.length;
      if (writers.length === 0) continue;
      // The bounds go in as INSERT data (not limited by max_query_size, unlike names inlined in a
      // query: thousands of `audit:<id>` writers passed it), and the backfill joins them.
      await table.command(
        `INSERT INTO ${boundsTable} (kind, gateway, bound) VALUES ${writers
          .map((writer, index) => `(${rollupKind[kind]}, ${sqlString(writer)}, ${bounds[index]})`)
          .join(', ')}`,
      );
      const joined = `${source} ANY INNER JOIN (SELECT gateway, bound FROM ${boundsTable} WHERE kind = ${rollupKind[kind]}) USING gateway`;
      await table.command(`INSERT INTO ${stage} ${rollupSelect(kind, joined, 'id <= bound')}`);
    }
    const [counted] = await table.rows(
      `SELECT sumMerge(flows) FROM ${stage} WHERE kind = ${rollupKind.stats}`,
    );
    const rows = Number(counted?.[0] ?? 0);
    // One marker per shard: its name tells the shards apart (readers count distinct names).
    await table.command(
      `INSERT INTO ${stage} SELECT toUInt8(${rollupKind.marker}), toInt64(0), '', '', '', '', '', toUInt8(0),
         concat(hostName(), ':', ${sqlString(`${database}.${table.table}`)}, ':', toString(now())), toUInt8(0),
         sumState(toUInt64(0)), sumState(toInt64(0)), sumState(toInt64(0)), minState(${int64Max}),
         maxState(${int64Min}), maxState(${noStart}), minState(toUInt64(0))`,
    );
    if (await hasMarker()) return { status: 'covered', gateways: 0, rows: 0 };
    await table.command(`ALTER TABLE ${rollup} ATTACH PARTITION tuple() FROM ${stage}`);
    attached = true;
    return { status: 'done', gateways, rows };
  } finally {
    // Dropped whatever happened before the attach (nothing reached the rollup), and after it.
    await table.command(`DROP TABLE IF EXISTS ${boundsTable}`).catch(() => undefined);
    await table.command(`DROP TABLE IF EXISTS ${stage}`).catch((error) => {
      if (!attached) throw error;
    });
  }
}

/**
 * Waits until no INSERT into the flow table that started before `second` (server time, whole
 * seconds) runs on the server (inserts into other tables are not waited for).
 */
async function waitForInsertsBefore(
  table: ClickHouseSql,
  second: number,
  waitMs: number,
  pollMs: number,
  stopping: () => boolean,
): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    // Started at now() - elapsed; before `second` + 1 covers every start within that second. Only
    // inserts whose text names the flow table (as a word or part of one: a superset, never fewer).
    // lower(), not (?i): 18.16's match() ignores that flag (it matched no insert at all).
    const [row] = await table.rows(
      `SELECT count() FROM system.processes
       WHERE match(lower(query), '^\\\\s*insert') AND position(lower(query), ${sqlString(table.table.toLowerCase())}) > 0
         AND toFloat64(now()) - elapsed < ${second + 1}`,
    );
    if (Number(row?.[0] ?? 0) === 0) return;
    if (stopping())
      throw new PathwardenError('PW_ERR_STORE_IO', 'the rollup backfill stopped: the store closes');
    if (Date.now() >= deadline) {
      throw new PathwardenError(
        'PW_ERR_STORE_IO',
        `inserts that started before ${new Date(second * 1000).toISOString()} still run after ${waitMs} ms; the rollup backfill stops (run it again)`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

// --- readers ---

type Where = (conditions: readonly FlowCondition[], extra?: string[]) => string;

/**
 * The UNION ALL parts of a rollup read over a time range [from, to): the rollup's whole minutes
 * inside it (`rolled`, given extra conditions on `minute`) and the raw flows of the partial minutes
 * at either end (`raw`, given extra conditions on `time_ms`). Undefined when the range holds no
 * whole minute (the raw flows alone are as cheap then). Without a range, the rollup alone.
 */
function rollupParts(
  range: { from: number | undefined; to: number | undefined },
  rolled: (minutes: string[]) => string,
  raw: (extra: string) => string,
): string | undefined {
  const whole = wholeMinutes(range);
  if (whole === undefined) return undefined;
  const { fromMinute, toMinute } = whole;
  const minutes: string[] = [];
  if (fromMinute !== undefined || toMinute !== undefined) minutes.push(`minute != ${noTimeMinute}`);
  if (fromMinute !== undefined) minutes.push(`minute >= ${fromMinute}`);
  if (toMinute !== undefined) minutes.push(`minute < ${toMinute}`);
  const parts = [rolled(minutes)];
  // Each edge also bounds event_time (the sort key) to its own seconds: the range's bounds alone
  // made ClickHouse read every part of the range (a 24 h range read 24 h of rows for two edges).
  const second = (ms: number) => Math.min(Math.max(Math.floor(ms / 1000), 0), maxDateTime);
  if (fromMinute !== undefined && fromMinute !== range.from)
    parts.push(raw(`time_ms < ${fromMinute} AND event_time <= toDateTime(${second(fromMinute - 1)})`));
  if (toMinute !== undefined && toMinute !== range.to)
    parts.push(raw(`time_ms >= ${toMinute} AND event_time >= toDateTime(${second(toMinute)})`));
  return parts.join('\nUNION ALL\n');
}

/**
 * Rows for the statistics of `range` with columns (minute, verdict, path, outcome, gateway, flows, up,
 * down, first_ms, last_ms) named (m, v, p, o, g, f, u, d, lo, hi): whole minutes from the rollup `rollup`, the partial minutes at the
 * range's ends from `flows`. `m` is NULL for flows without a time.
 */
export function statisticsSources(
  range: NormalizedStatsRange,
  flows: string,
  rollup: string,
  where: Where,
): string | undefined {
  const others = range.conditions.filter((condition) => condition.kind !== 'time');
  return rollupParts(
    range,
    (minutes) =>
      `SELECT if(minute = ${noTimeMinute}, NULL, minute) AS m, verdict_key AS v, path_key AS p,
              outcome_key AS o, gateway AS g, sumMerge(flows) AS f, sumMerge(up) AS u, sumMerge(down) AS d,
              minMerge(first_ms) AS lo, maxMerge(last_ms) AS hi
       FROM ${rollup}${where(others, [`kind = ${rollupKind.stats}`, ...minutes])}
       GROUP BY minute, verdict_key, path_key, outcome_key, gateway`,
    (extra) =>
      `SELECT if(isNull(time_ms), NULL, ${minuteSql}) AS m, ifNull(verdict, '${noneKey}') AS v,
              ${flowPathSql} AS p, ifNull(outcome, '${noneKey}') AS o, gateway AS g, toUInt64(1) AS f,
              ifNull(bytes_up, toInt64(0)) AS u, ifNull(bytes_down, toInt64(0)) AS d,
              ifNull(time_ms, ${int64Max}) AS lo, ifNull(time_ms, ${int64Min}) AS hi
       FROM ${flows}${where(range.conditions, [extra])}`,
  );
}

/**
 * Rows for groups() per rule and destination with columns (rule_id, name, flows, up, down,
 * last_start) named (r, n, f, u, d, s), when the query is what the Exceptions page asks: `verdict=exception`, optionally
 * gateways and a time range. Undefined for any other query (or a range without a whole minute).
 */
export function exceptionGroupSources(
  conditions: readonly FlowCondition[],
  flows: string,
  rollup: string,
  where: Where,
): string | undefined {
  const page = exceptionsPageQuery(conditions);
  if (page === undefined) return undefined;
  return rollupParts(
    page,
    (minutes) =>
      `SELECT if(rule_null = 1, NULL, rule_key) AS r, if(name_null = 1, NULL, name_key) AS n,
              sumMerge(flows) AS f, sumMerge(up) AS u, sumMerge(down) AS d,
              if(maxMerge(last_start) = ${noStart}, NULL, maxMerge(last_start)) AS s
       FROM ${rollup}${where(page.gateways, [`kind = ${rollupKind.exceptions}`, ...minutes])}
       GROUP BY rule_key, rule_null, name_key, name_null`,
    (extra) =>
      `SELECT rule_id AS r, ${groupNameSql} AS n, toUInt64(1) AS f, ifNull(bytes_up, toInt64(0)) AS u,
              ifNull(bytes_down, toInt64(0)) AS d, start_ms AS s
       FROM ${flows}${where(conditions, [extra])}`,
  );
}
