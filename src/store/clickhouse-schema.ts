// The ClickHouse shape of the flow table and the DDL for one server or a sharded cluster. The columns
// are the shared flow columns plus `event_time` (a DateTime for partitions and the sort key); the SQL
// is kept to what ClickHouse 18.16 (Debian 12's package) and current releases both accept.
import { PathwardenError } from '../errors.js';
import { distributedRollupDdl, rollupDdl } from './clickhouse-rollup.js';
import { flowColumns } from './columns.js';

export interface ClickHouseColumn {
  name: string;
  type: string;
}

const chTypes: Record<(typeof flowColumns)[number]['sqlType'], string> = {
  BIGINT: 'Int64',
  INTEGER: 'Int32',
  DOUBLE: 'Float64',
  VARCHAR: 'String',
};

/**
 * The columns of a ClickHouse flow table, in order. `gateway` and `id` are never null (together they
 * identify a flow); `event_time` is the flow time in whole seconds (0 when the record has none),
 * because 18.16 has no DateTime64 and no Nullable column may be in a sort or partition key.
 */
export const clickhouseColumns: readonly ClickHouseColumn[] = [
  { name: 'gateway', type: 'String' },
  { name: 'id', type: 'UInt64' },
  { name: 'event_time', type: 'DateTime' },
  ...flowColumns
    .filter((column) => column.name !== 'id' && column.name !== 'gateway')
    .map((column) => ({ name: column.name, type: `Nullable(${chTypes[column.sqlType]})` })),
];

/** Sort key: time first (every dashboard query is a time range, newest first), then who and which. */
export const clickhouseOrderBy = '(event_time, gateway, id)';
export const clickhousePartitionBy = 'toDate(event_time)';
export const defaultShardingKey = 'cityHash64(gateway, id)';

const identifierPattern = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Database, table and cluster names go into SQL unquoted: only plain identifiers are accepted. */
export function checkIdentifier(what: string, name: string): string {
  if (!identifierPattern.test(name)) {
    throw new PathwardenError(
      'PW_ERR_USAGE',
      `${what} must be a plain identifier (letters, digits, _; not starting with a digit); got ${JSON.stringify(name)}`,
    );
  }
  return name;
}

export interface ClickHouseSchemaOptions {
  database: string;
  table: string;
  /** A `<remote_servers>` cluster: print a local table per shard and a Distributed table over them. */
  cluster?: string;
  /** Local table on every shard (default `<table>_local`). */
  localTable?: string;
  /**
   * Database of the local tables on the shards (default: `database`). The empty string names each
   * replica's `<default_database>` from the cluster config, as the Distributed engine does.
   */
  localDatabase?: string;
  /** Sharding expression of the Distributed table (default `cityHash64(gateway, id)`). */
  shardingKey?: string;
  /** Rows older than this many days are deleted by the server (TTL needs ClickHouse 19.6 or later). */
  ttlDays?: number;
}

export interface ClickHouseSchema {
  /** Run once on every shard (every replica of it); creates the table that holds the rows. */
  shardStatements: string[];
  /** Run on every server gateways and dashboards connect to; empty without a cluster. */
  entryStatements: string[];
}

function columnList(): string {
  return clickhouseColumns.map((column) => `  ${column.name} ${column.type}`).join(',\n');
}

function qualified(database: string, table: string): string {
  return database === '' ? table : `${database}.${table}`;
}

function quote(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export function mergeTreeDdl(database: string, table: string, ttlDays?: number): string {
  const ttl = ttlDays === undefined ? '' : `\nTTL event_time + INTERVAL ${ttlDays} DAY`;
  return `CREATE TABLE IF NOT EXISTS ${qualified(database, table)} (\n${columnList()}\n)
ENGINE = MergeTree
PARTITION BY ${clickhousePartitionBy}
ORDER BY ${clickhouseOrderBy}${ttl}
SETTINGS index_granularity = 8192`;
}

/** The statements for the options; names are checked, the sharding key is the caller's SQL. */
export function clickhouseSchema(options: ClickHouseSchemaOptions): ClickHouseSchema {
  const database = checkIdentifier('database', options.database);
  const table = checkIdentifier('table', options.table);
  if (options.ttlDays !== undefined && (!Number.isSafeInteger(options.ttlDays) || options.ttlDays < 1)) {
    throw new PathwardenError(
      'PW_ERR_USAGE',
      `--ttl-days must be a whole number of days >= 1; got ${options.ttlDays}`,
    );
  }
  if (options.cluster === undefined) {
    return {
      shardStatements: [
        `CREATE DATABASE IF NOT EXISTS ${database}`,
        mergeTreeDdl(database, table, options.ttlDays),
        ...rollupDdl(database, table, options.ttlDays),
      ],
      entryStatements: [],
    };
  }
  const cluster = checkIdentifier('cluster', options.cluster);
  const localTable = checkIdentifier('local table', options.localTable ?? `${table}_local`);
  const localDatabase =
    options.localDatabase === undefined
      ? database
      : options.localDatabase === ''
        ? ''
        : checkIdentifier('local database', options.localDatabase);
  const shardingKey = options.shardingKey ?? defaultShardingKey;
  if (shardingKey.trim() === '' || /;/.test(shardingKey)) {
    throw new PathwardenError(
      'PW_ERR_USAGE',
      `--shards-key must be one SQL expression; got ${JSON.stringify(shardingKey)}`,
    );
  }
  return {
    shardStatements: [
      ...(localDatabase === '' ? [] : [`CREATE DATABASE IF NOT EXISTS ${localDatabase}`]),
      mergeTreeDdl(localDatabase, localTable, options.ttlDays),
      ...rollupDdl(localDatabase, localTable, options.ttlDays),
    ],
    entryStatements: [
      `CREATE DATABASE IF NOT EXISTS ${database}`,
      `CREATE TABLE IF NOT EXISTS ${database}.${table} (\n${columnList()}\n)
ENGINE = Distributed(${cluster}, ${quote(localDatabase)}, ${quote(localTable)}, ${shardingKey})`,
      distributedRollupDdl(database, table, cluster, localDatabase, localTable),
    ],
  };
}

/** The DDL as a script a person runs with clickhouse-client --multiquery. */
export function formatClickHouseSchema(options: ClickHouseSchemaOptions): string {
  const schema = clickhouseSchema(options);
  const lines: string[] = [];
  const ttlNote =
    options.ttlDays === undefined
      ? []
      : [
          '-- TTL needs ClickHouse 19.6 or later; on older servers drop old partitions instead',
          "-- (ALTER TABLE ... DROP PARTITION 'YYYY-MM-DD').",
        ];
  const rollupNote = [
    '-- The per-minute rollup (<table>_minute, filled by materialized views at insert time) is used by',
    '-- readers once `pathwarden store rollup` has run on the table that holds the rows (each shard).',
  ];
  if (options.cluster === undefined) {
    lines.push(
      '-- One ClickHouse server: the table gateways insert into and dashboards read.',
      ...ttlNote,
      ...rollupNote,
    );
    lines.push(...schema.shardStatements.map((statement) => `${statement};`));
  } else {
    lines.push(
      `-- 1. On every replica of every shard of cluster ${options.cluster}: the table that holds the rows.`,
      ...(options.localDatabase === ''
        ? ['--    Run it in the database each replica names as <default_database> in <remote_servers>.']
        : []),
      ...ttlNote,
      ...rollupNote,
      ...schema.shardStatements.map((statement) => `${statement};`),
      '',
      '-- 2. On every server gateways and dashboards connect to: the Distributed table over the shards.',
      ...schema.entryStatements.map((statement) => `${statement};`),
    );
  }
  return `${lines.join('\n')}\n`;
}
