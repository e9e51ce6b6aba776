// `pathwarden store schema clickhouse`: prints the DDL of the ClickHouse flow table, for one server
// or for a cluster of shards behind a Distributed table (docs/scale-out.md).
import { Command, InvalidArgumentError } from 'commander';
import { formatClickHouseSchema } from '../store/clickhouse-schema.js';
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
  return store;
}
