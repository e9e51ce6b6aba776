// `npm run bench:clickhouse [-- --flows N]`: the ClickHouse flow store next to DuckDB in one run, on a
// clickhouse-server started for the run (Debian's package, its own temporary folder). Measures
// (1) insert throughput from one process: appends through the store until ClickHouse acknowledged
// every batch, and the same into a DuckDB file; (2) the dashboard's admin API calls (p50 / p95 of 50
// calls each) over `dashboard --store clickhouse://...` and over the DuckDB file, at the same size.
// Target (issue 14): >= 100k flows/s inserted. Default size 1M flows; --flows 10000000 for the 10M run.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startStoredDashboard } from '../src/admin/dashboard/serve.js';
import { loadBuiltinCatalog } from '../src/catalog/load.js';
import type { FlowRecord } from '../src/flow/record.js';
import { Policy } from '../src/policy/policy.js';
import { type FlowStoreConfig, openFlowStore } from '../src/store/store.js';
import { ClickHouseTestServer } from '../src/store/testing/clickhouse-server.js';
import { dashboardApiCalls, syntheticFlows, timeCalls } from './dashboard.js';

/** Distinct records generated once and appended again and again (generation is not what is measured). */
const POOL = 50_000;

function flowCount(): number {
  const index = process.argv.indexOf('--flows');
  const text = index >= 0 ? process.argv[index + 1] : process.env.PATHWARDEN_BENCH_FLOWS;
  const count = Number(text ?? 1_000_000);
  if (!Number.isSafeInteger(count) || count < 1)
    throw new Error(`--flows must be a positive whole number; got ${text}`);
  return count;
}

/** Appends `count` flows (the pool, its times spread over the last day) and waits until all are stored. */
async function insert(config: FlowStoreConfig, pool: readonly FlowRecord[], count: number): Promise<number> {
  const store = await openFlowStore(config, { gateway: 'bench' });
  const started = performance.now();
  for (let index = 0; index < count; index++) {
    store.append(pool[index % pool.length] as FlowRecord);
    if ((index + 1) % 8192 === 0) await store.flush();
  }
  await store.close();
  return count / ((performance.now() - started) / 1000);
}

async function main(): Promise<void> {
  const count = flowCount();
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const catalog = loadBuiltinCatalog().catalog;
  const pool = [...syntheticFlows(Policy.compile(catalog), Math.min(POOL, count))];
  const dir = await mkdtemp(join(tmpdir(), 'pw-bench-clickhouse-'));
  const server = await ClickHouseTestServer.start();
  try {
    const version = (await server.query('SELECT version()')).trim();
    say(
      `ClickHouse ${version} (clickhouse-server, one local process) vs DuckDB; ${count.toLocaleString('en')} flows`,
    );
    const clickhouse: FlowStoreConfig = {
      kind: 'clickhouse',
      url: server.url,
      database: 'bench',
      table: 'flows',
      flushIntervalMs: 1000,
      spool: join(dir, 'spool'),
      createTables: true,
    };
    const duckdb: FlowStoreConfig = {
      kind: 'duckdb',
      path: join(dir, 'flows.duckdb'),
      flushIntervalMs: 1000,
    };
    const clickhouseRate = await insert(clickhouse, pool, count);
    const duckdbRate = await insert(duckdb, pool, count);
    say('');
    say('| store | insert, flows/s (one process) |');
    say('| --- | ---: |');
    say(
      `| ClickHouse (HTTP, JSONEachRow, batches of 8192) | ${Math.round(clickhouseRate).toLocaleString('en')} |`,
    );
    say(`| DuckDB (appender) | ${Math.round(duckdbRate).toLocaleString('en')} |`);

    const dashboards = [
      await startStoredDashboard({
        file: `clickhouse://127.0.0.1:${server.httpPort}/bench?table=flows`,
        listen: '127.0.0.1:0',
        catalog,
      }),
      await startStoredDashboard({ file: duckdb.path, listen: '127.0.0.1:0', catalog }),
    ];
    try {
      say('');
      say(
        '| API call (50 calls each) | ClickHouse p50 ms | ClickHouse p95 ms | DuckDB p50 ms | DuckDB p95 ms |',
      );
      say('| --- | ---: | ---: | ---: | ---: |');
      for (const [label, call] of dashboardApiCalls(Date.now() - 3_600_000)) {
        const results = [];
        for (const dashboard of dashboards)
          results.push(await timeCalls(dashboard.url.replace(/\/$/, ''), call));
        say(
          `| ${label} | ${results.map(({ p50, p95 }) => `${p50.toFixed(1)} | ${p95.toFixed(1)}`).join(' | ')} |`,
        );
      }
    } finally {
      for (const dashboard of dashboards) await dashboard.close();
    }
  } finally {
    await server.dispose();
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  });
}
