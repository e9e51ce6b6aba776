// `pathwarden store schema clickhouse`: prints the DDL of the ClickHouse flow table, for one server
// or for a cluster of shards behind a Distributed table; `pathwarden store rollup`: backfills the
// per-minute rollup of one MergeTree flow table (docs/scale-out.md).
import { Command, InvalidArgumentError } from 'commander';
import { isPathwardenError } from '../errors.js';
import { queryFailure } from '../store/buffer.js';
import { ClickHouseFlowTable } from '../store/clickhouse.js';
import { backfillRollup } from '../store/clickhouse-rollup.js';
import { formatClickHouseSchema } from '../store/clickhouse-schema.js';
import { parseClickHouseTarget } from '../store/target.js';
import { type CliIo, write } from './io.js';

interface SchemaOptions {
  database: string;
  table: string;
  cluster?: string;
  shardsKey?: string;
  localTable?: string;
  localDatabase?: string;
  ttlDays?: number;
}

function wholeDays(value: string): number {
  const days = Number(value);
  if (!Number.isSafeInteger(days) || days < 1)
    throw new InvalidArgumentError('expected a whole number of days >= 1');
  return days;
}

function wholeSeconds(value: string): number {
  const seconds = Number(value);
  if (!Number.isSafeInteger(seconds) || seconds < 0)
    throw new InvalidArgumentError('expected a whole number of seconds >= 0');
  return seconds;
}

export function storeCommand(io: CliIo, _setExit: (code: number) => void): Command {
  const store = new Command('store').description('flow store administration');
  const schema = new Command('schema').description('print the DDL of a flow store');
  schema.addCommand(
    new Command('clickhouse')
      .description('print the DDL of the ClickHouse flow table (one server, or a sharded cluster)')
      .option('--database <name>', 'database gateways and dashboards use', 'pathwarden')
      .option('--table <name>', 'table gateways insert into and dashboards read', 'flows')
      .option(
        '--cluster <name>',
        'a <remote_servers> cluster: a local table per shard and a Distributed table',
      )
      .option(
        '--shards-key <expr>',
        'sharding expression of the Distributed table',
        'cityHash64(gateway, id)',
      )
      .option('--local-table <name>', 'the table on each shard (default: <table>_local)')
      .option(
        '--local-database <name>',
        "database of the shard tables (default: --database; '' = each replica's <default_database>)",
      )
      .option('--ttl-days <n>', 'delete rows older than n days (TTL: ClickHouse 19.6 or later)', wholeDays)
      .addHelpText(
        'after',
        `
Examples:
  pathwarden store schema clickhouse | clickhouse-client --multiquery
  pathwarden store schema clickhouse --cluster flows --shards-key 'cityHash64(gateway)' --ttl-days 90`,
      )
      .action(async (options: SchemaOptions) => {
        await write(
          io.stdout,
          formatClickHouseSchema({
            database: options.database,
            table: options.table,
            cluster: options.cluster,
            localTable: options.localTable,
            localDatabase: options.localDatabase,
            shardingKey: options.shardsKey,
            ttlDays: options.ttlDays,
          }),
        );
      }),
  );
  store.addCommand(schema);
  store.addCommand(
    new Command('rollup')
      .description(
        'fold the flows stored before the per-minute rollup existed into it (once; safe to run again)',
      )
      .argument(
        '<target>',
        'clickhouse://HOST:PORT/DATABASE[?table=flows]: the MergeTree table that holds the rows',
      )
      .option(
        '--wait-seconds <n>',
        'how long to wait for inserts that started before the rollup',
        wholeSeconds,
        600,
      )
      .option(
        '--timeout-seconds <n>',
        'how long one query may run (the backfill INSERT ... SELECT reads every row stored before the rollup)',
        wholeSeconds,
        3600,
      )
      .addHelpText(
        'after',
        `
Run it on one server's table, or on each shard's local table of a cluster (every replica).
Examples:
  pathwarden store rollup clickhouse://127.0.0.1:8123/pathwarden
  pathwarden store rollup 'clickhouse://shard1:8123/pathwarden?table=flows_local'`,
      )
      .action(async (target: string, options: { waitSeconds: number; timeoutSeconds: number }) => {
        const config = parseClickHouseTarget(target, '');
        const table = new ClickHouseFlowTable({ ...config, requestTimeoutMs: options.timeoutSeconds * 1000 });
        try {
          const result = await backfillRollup(table, { waitMs: options.waitSeconds * 1000 }).catch(
            (error: unknown) => {
              throw isPathwardenError(error) ? error : queryFailure('rollup backfill failed', error);
            },
          );
          await write(
            io.stdout,
            result.status === 'covered'
              ? `${table.qualified}: the rollup covers the table already; nothing to do\n`
              : `${table.qualified}: ${result.rows} flows of ${result.gateways} gateways folded into the rollup; readers use it now\n`,
          );
        } finally {
          await table.close();
        }
      }),
  );
  return store;
}
