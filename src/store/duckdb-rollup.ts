// The DuckDB store's per-minute rollup: flows, bytes and first/last time per minute, verdict, path,
// outcome and gateway, in a table beside `flows`. It is brought up to date by the reading side, just
// before a statistics read, from the flows stored since the last refresh (`id` grows with append
// order, so "since" is `id > last_id`, which zone maps answer without a scan); the gateway's writes
// never wait for it. Statistics over whole minutes then read the rollup (about a thousand rows a day
// per key) instead of every flow; see statisticsSources() for the exact split.
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import { flowPathSql, noneKey } from './columns.js';
import type { FlowCondition, NormalizedStatsRange } from './query.js';

export const rollupTable = 'flows_minute';
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
  `CREATE TABLE IF NOT EXISTS ${stateTable} (last_id BIGINT NOT NULL)`,
];

/** The keys statistics count a flow under (the same expressions for the rollup and for raw rows). */
const flowKeys = `coalesce(verdict, '${noneKey}') AS verdict, ${flowPathSql} AS path,
  coalesce(outcome, '${noneKey}') AS outcome, coalesce(gateway, '') AS gateway`;

/** Creates the rollup's tables when missing (a file written before they existed gets them). */
export async function createRollup(connection: DuckDBConnection): Promise<void> {
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
 * Rows for the statistics of `range` with columns (minute, verdict, path, outcome, gateway, flows,
 * up, down, first_ms, last_ms), from the rollup where it is exact and from `flows` elsewhere:
 * - the rollup's whole minutes inside [from, to), as of the refresh that stored `rolledUp`;
 * - raw flows stored after it (`id > rolledUp`) anywhere in the range;
 * - raw flows of the partial minutes at either end of the range.
 * Undefined when the range holds no whole minute (then the raw flows alone are as cheap).
 * `where` compiles conditions with `extra` ANDed SQL (the caller's dialect and parameters).
 */
export function statisticsSources(
  range: NormalizedStatsRange,
  rolledUp: number,
  flows: string,
  where: (conditions: readonly FlowCondition[], extra?: string[]) => string,
  params: DuckDBValue[],
): string | undefined {
  const fromMinute = range.from === undefined ? undefined : Math.ceil(range.from / minuteMs) * minuteMs;
  const toMinute = range.to === undefined ? undefined : Math.floor(range.to / minuteMs) * minuteMs;
  if (fromMinute !== undefined && toMinute !== undefined && fromMinute >= toMinute) return undefined;
  const value = (number: number) => {
    params.push(number);
    return `$${params.length}::BIGINT`;
  };
  const others = range.conditions.filter((condition) => condition.kind !== 'time');
  const minutes: string[] = [];
  if (fromMinute !== undefined || toMinute !== undefined) minutes.push(`minute <> ${noTimeMinute}`);
  if (fromMinute !== undefined) minutes.push(`minute >= ${value(fromMinute)}`);
  if (toMinute !== undefined) minutes.push(`minute < ${value(toMinute)}`);
  const raw = (extra: string) =>
    `SELECT (time_ms // ${minuteMs}) * ${minuteMs} AS minute, ${flowKeys}, 1 AS flows,
            coalesce(bytes_up, 0)::DOUBLE AS up, coalesce(bytes_down, 0)::DOUBLE AS down,
            time_ms AS first_ms, time_ms AS last_ms
     FROM ${flows}${where(range.conditions, [extra])}`;
  const parts = [
    `SELECT nullif(minute, ${noTimeMinute}) AS minute, verdict, path, outcome, gateway, flows,
            bytes_up AS up, bytes_down AS down, first_ms, last_ms
     FROM ${rollupTable}${where(others, minutes)}`,
    raw(`id > ${value(rolledUp)}`),
  ];
  if (fromMinute !== undefined)
    parts.push(raw(`id <= ${value(rolledUp)} AND time_ms < ${value(fromMinute)}`));
  if (toMinute !== undefined) parts.push(raw(`id <= ${value(rolledUp)} AND time_ms >= ${value(toMinute)}`));
  return parts.join('\nUNION ALL\n');
}
