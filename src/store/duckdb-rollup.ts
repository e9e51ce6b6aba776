// The DuckDB store's per-minute rollups: flows, bytes and first/last time per minute, verdict, path,
// outcome and gateway, and the exception flows per minute, gateway, rule and destination, in tables
// beside `flows`. It is brought up to date by the reading side, just
// before a statistics read, from the flows stored since the last refresh (`id` grows with append
// order, so "since" is `id > last_id`, which zone maps answer without a scan); the gateway's writes
// never wait for it. Statistics over whole minutes then read the rollup (about a thousand rows a day
// per key) instead of every flow; see statisticsSources() for the exact split.
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import { flowPathSql, noneKey } from './columns.js';
import { type FlowCondition, groupNameSql, type NormalizedStatsRange } from './query.js';

export const rollupTable = 'flows_minute';
export const exceptionsTable = 'flows_minute_exceptions';
const stateTable = 'flows_minute_state';
export const minuteMs = 60_000;
/** The minute key of flows without a time: a primary key cannot hold NULL (BIGINT's minimum). */
const noTimeMinute = '(-9223372036854775807 - 1)';

const rollupDdl = [
  `CREATE TABLE IF NOT EXISTS ${rollupTable} (
     minute BIGINT NOT NULL, verdict VARCHAR NOT NULL, path VARCHAR NOT NULL, outcome VARCHAR NOT NULL,
     gateway VARCHAR NOT NULL, flows BIGINT NOT NULL, bytes_up DOUBLE NOT NULL, bytes_down DOUBLE NOT NULL,
     first_ms BIGINT, last_ms BIGINT,
     PRIMARY KEY (minute, verdict, path, outcome, gateway))`,
  // Exception flows per rule and destination (the Exceptions page): NULL rule ids and names are kept
  // apart from '' by the *_null columns, since key columns cannot be NULL.
  `CREATE TABLE IF NOT EXISTS ${exceptionsTable} (
     minute BIGINT NOT NULL, gateway VARCHAR NOT NULL, rule_id VARCHAR NOT NULL, rule_null BOOLEAN NOT NULL,
     name VARCHAR NOT NULL, name_null BOOLEAN NOT NULL, flows BIGINT NOT NULL, bytes_up DOUBLE NOT NULL,
     bytes_down DOUBLE NOT NULL, last_start DOUBLE,
     PRIMARY KEY (minute, gateway, rule_id, rule_null, name, name_null))`,
  `CREATE TABLE IF NOT EXISTS ${stateTable} (last_id BIGINT NOT NULL)`,
];

/** The keys statistics count a flow under (the same expressions for the rollup and for raw rows). */
const flowKeys = `coalesce(verdict, '${noneKey}') AS verdict, ${flowPathSql} AS path,
  coalesce(outcome, '${noneKey}') AS outcome, coalesce(gateway, '') AS gateway`;

/**
 * Creates the rollups' tables when missing (a file written before they existed gets them). All
 * rollups share one `last_id`: when one table is missing (say, a newer version adds one), all are
 * rebuilt from the flows.
 */
export async function createRollup(connection: DuckDBConnection): Promise<void> {
  const tables = [rollupTable, exceptionsTable, stateTable];
  const found = await connection.runAndReadAll(
    `SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main'
       AND table_name IN (${tables.map((name) => `'${name}'`).join(', ')})`,
  );
  const count = Number(found.getRows()[0]?.[0] ?? 0);
  if (count > 0 && count < tables.length) {
    for (const name of tables) await connection.run(`DROP TABLE IF EXISTS ${name}`);
  }
  for (const statement of rollupDdl) await connection.run(statement);
}

/** Folds the flows stored since the last refresh into the rollup, in one transaction. */
export async function refreshRollup(connection: DuckDBConnection, flows: string): Promise<void> {
  await connection.run('BEGIN TRANSACTION');
  try {
    const done = await lastRolledUpId(connection);
    const newest = await connection.runAndReadAll(`SELECT max(id) FROM ${flows} WHERE id > ${done}`);
    const upTo = newest.getRows()[0]?.[0];
    if (upTo !== null && upTo !== undefined) {
      await connection.run(
        `INSERT INTO ${rollupTable}
         SELECT coalesce((time_ms // ${minuteMs}) * ${minuteMs}, ${noTimeMinute}) AS minute, ${flowKeys},
                count(*), sum(coalesce(bytes_up, 0))::DOUBLE, sum(coalesce(bytes_down, 0))::DOUBLE,
                min(time_ms), max(time_ms)
         FROM ${flows} WHERE id > ${done} AND id <= ${upTo}
         GROUP BY ALL
         ON CONFLICT (minute, verdict, path, outcome, gateway) DO UPDATE SET
           flows = flows + excluded.flows, bytes_up = bytes_up + excluded.bytes_up,
           bytes_down = bytes_down + excluded.bytes_down,
           first_ms = least(first_ms, excluded.first_ms), last_ms = greatest(last_ms, excluded.last_ms)`,
      );
      await connection.run(
        `INSERT INTO ${exceptionsTable}
         SELECT coalesce((time_ms // ${minuteMs}) * ${minuteMs}, ${noTimeMinute}) AS minute,
                coalesce(gateway, '') AS gateway, coalesce(rule_id, '') AS rule_key, rule_id IS NULL,
                coalesce(${groupNameSql}, '') AS name_key, ${groupNameSql} IS NULL,
                count(*), sum(coalesce(bytes_up, 0))::DOUBLE, sum(coalesce(bytes_down, 0))::DOUBLE,
                max(start_ms)
         FROM ${flows} WHERE id > ${done} AND id <= ${upTo} AND verdict = 'exception'
         GROUP BY ALL
         ON CONFLICT (minute, gateway, rule_id, rule_null, name, name_null) DO UPDATE SET
           flows = flows + excluded.flows, bytes_up = bytes_up + excluded.bytes_up,
           bytes_down = bytes_down + excluded.bytes_down,
           last_start = greatest(last_start, excluded.last_start)`,
      );
      await connection.run(`DELETE FROM ${stateTable}`);
      await connection.run(`INSERT INTO ${stateTable} VALUES (${upTo})`);
    }
    await connection.run('COMMIT');
  } catch (error) {
    await connection.run('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/** The highest flow id the rollup holds (0 before the first refresh). */
export async function lastRolledUpId(connection: DuckDBConnection): Promise<number> {
  const state = await connection.runAndReadAll(`SELECT coalesce(max(last_id), 0) FROM ${stateTable}`);
  return Number(state.getRows()[0]?.[0] ?? 0);
}

/**
 * The whole minutes of a time range [from, to): the first minute start at or after `from` and the
 * last minute end at or before `to` (undefined bounds stay open). Undefined when no whole minute fits.
 */
export function wholeMinutes(range: {
  from: number | undefined;
  to: number | undefined;
}): { fromMinute: number | undefined; toMinute: number | undefined } | undefined {
  const fromMinute = range.from === undefined ? undefined : Math.ceil(range.from / minuteMs) * minuteMs;
  const toMinute = range.to === undefined ? undefined : Math.floor(range.to / minuteMs) * minuteMs;
  if (fromMinute !== undefined && toMinute !== undefined && fromMinute >= toMinute) return undefined;
  return { fromMinute, toMinute };
}

/**
 * The rows a rollup read is made of, as UNION ALL parts, for conditions with a time range
 * [from, to): the rollup's whole minutes inside the range (`rolled`: its SELECT for extra conditions
 * on `minute`), as of the refresh that stored `rolledUp`; raw flows stored after it (`id > rolledUp`)
 * anywhere in the range; and raw flows of the partial minutes at either end (`raw`: its SELECT for
 * extra conditions on `flows`). Undefined when the range holds no whole minute (then the raw flows
 * alone are as cheap).
 */
function rollupParts(
  range: { from: number | undefined; to: number | undefined },
  rolledUp: number,
  params: DuckDBValue[],
  rolled: (minutes: string[]) => string,
  raw: (extra: string) => string,
): string | undefined {
  const whole = wholeMinutes(range);
  if (whole === undefined) return undefined;
  const { fromMinute, toMinute } = whole;
  const value = (number: number) => {
    params.push(number);
    return `$${params.length}::BIGINT`;
  };
  const minutes: string[] = [];
  if (fromMinute !== undefined || toMinute !== undefined) minutes.push(`minute <> ${noTimeMinute}`);
  if (fromMinute !== undefined) minutes.push(`minute >= ${value(fromMinute)}`);
  if (toMinute !== undefined) minutes.push(`minute < ${value(toMinute)}`);
  const parts = [rolled(minutes), raw(`id > ${value(rolledUp)}`)];
  if (fromMinute !== undefined)
    parts.push(raw(`id <= ${value(rolledUp)} AND time_ms < ${value(fromMinute)}`));
  if (toMinute !== undefined) parts.push(raw(`id <= ${value(rolledUp)} AND time_ms >= ${value(toMinute)}`));
  return parts.join('\nUNION ALL\n');
}

type Where = (conditions: readonly FlowCondition[], extra?: string[]) => string;

/**
 * Rows for the statistics of `range` with columns (minute, verdict, path, outcome, gateway, flows,
 * up, down, first_ms, last_ms), from the rollup where it is exact and from `flows` elsewhere
 * (rollupParts). `where` compiles conditions with `extra` ANDed SQL (the caller's parameters).
 */
export function statisticsSources(
  range: NormalizedStatsRange,
  rolledUp: number,
  flows: string,
  where: Where,
  params: DuckDBValue[],
): string | undefined {
  const others = range.conditions.filter((condition) => condition.kind !== 'time');
  return rollupParts(
    range,
    rolledUp,
    params,
    (minutes) =>
      `SELECT nullif(minute, ${noTimeMinute}) AS minute, verdict, path, outcome, gateway, flows,
              bytes_up AS up, bytes_down AS down, first_ms, last_ms
       FROM ${rollupTable}${where(others, minutes)}`,
    (extra) =>
      `SELECT (time_ms // ${minuteMs}) * ${minuteMs} AS minute, ${flowKeys}, 1 AS flows,
              coalesce(bytes_up, 0)::DOUBLE AS up, coalesce(bytes_down, 0)::DOUBLE AS down,
              time_ms AS first_ms, time_ms AS last_ms
       FROM ${flows}${where(range.conditions, [extra])}`,
  );
}

/**
 * What the Exceptions page asks: `verdict=exception`, optionally gateways and a time range. Its
 * gateway conditions and range, or undefined for any other query (both stores' rollups use it).
 */
export function exceptionsPageQuery(
  conditions: readonly FlowCondition[],
): { gateways: FlowCondition[]; from: number | undefined; to: number | undefined } | undefined {
  const isExceptions = (condition: FlowCondition) =>
    condition.kind === 'in' &&
    condition.column === 'verdict' &&
    condition.values.length === 1 &&
    condition.values[0] === 'exception';
  const isGateway = (condition: FlowCondition) => condition.kind === 'in' && condition.column === 'gateway';
  if (conditions.filter(isExceptions).length !== 1) return undefined;
  if (!conditions.every((c) => isExceptions(c) || isGateway(c) || c.kind === 'time')) return undefined;
  const time = conditions.find((condition) => condition.kind === 'time');
  return { gateways: conditions.filter(isGateway), from: time?.from, to: time?.to };
}

/**
 * Rows for groups() per rule and destination with columns (rule_id, name, flows, up, down,
 * last_start), when the query is what the Exceptions page asks: `verdict=exception`, optionally one
 * gateway and a time range. Undefined for any other query (or a range without a whole minute).
 */
export function exceptionGroupSources(
  conditions: readonly FlowCondition[],
  rolledUp: number,
  flows: string,
  where: Where,
  params: DuckDBValue[],
): string | undefined {
  const page = exceptionsPageQuery(conditions);
  if (page === undefined) return undefined;
  return rollupParts(
    page,
    rolledUp,
    params,
    (minutes) =>
      `SELECT CASE WHEN rule_null THEN NULL ELSE rule_id END AS rule_id,
              CASE WHEN name_null THEN NULL ELSE name END AS name,
              flows, bytes_up AS up, bytes_down AS down, last_start
       FROM ${exceptionsTable}${where(page.gateways, minutes)}`,
    (extra) =>
      `SELECT rule_id, ${groupNameSql} AS name, 1 AS flows, coalesce(bytes_up, 0)::DOUBLE AS up,
              coalesce(bytes_down, 0)::DOUBLE AS down, start_ms AS last_start
       FROM ${flows}${where(conditions, [extra])}`,
  );
}
