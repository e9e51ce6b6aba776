// `npm run bench:clickhouse [-- --flows N] [-- --calls N]`: the ClickHouse flow store next to DuckDB in
// one run, on a clickhouse-server started for the run (Debian's package, its own temporary folder).
// (1) Bulk load: N seeded synthetic gateway flows (bench/dashboard.ts's generator, default 10M) are
// generated in chunks of 100,000 and each chunk is loaded through the store interface (append, paced
// by src/store/load.ts) into ClickHouse and then into DuckDB, until each store has written it; only
// the loading is timed, and the CPU it took (this process, and the server's for ClickHouse).
// (2) The dashboard's admin API calls (bench/dashboard.ts's list; p50 / p95 of --calls calls each)
// over `dashboard --store clickhouse://...` and over the DuckDB file, at the same size.
// (0) Insert encodings, same run: one batch of 65,536 flows encoded as TabSeparated (the spool's),
// RowBinary (live inserts before) and Native (live inserts now), and inserted in each straight through
// the table (no store): node CPU per flow to encode, node and server CPU per flow to insert, flows/s.
// `--skip-duckdb` loads ClickHouse only and skips the dashboard comparison (for profiling the insert).
// Target (issue 14): >= 100k flows/s inserted from one process.
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { startStoredDashboard } from '../src/admin/dashboard/serve.js';
import { loadBuiltinCatalog } from '../src/catalog/load.js';
import type { FlowRecord } from '../src/flow/record.js';
import { Policy } from '../src/policy/policy.js';
import type { StoreLog } from '../src/store/buffer.js';
import { ClickHouseFlowTable } from '../src/store/clickhouse.js';
import { nativeChunks, rowBinaryChunks, tabSeparatedChunks } from '../src/store/clickhouse-rows.js';
import { toStoredFlow } from '../src/store/columns.js';
import { loadFlows } from '../src/store/load.js';
import { type FlowStore, type FlowStoreConfig, openFlowStore, type StoredFlow } from '../src/store/store.js';
import { ClickHouseTestServer } from '../src/store/testing/clickhouse-server.js';
import { dashboardApiCalls, deepCursorOf, syntheticFlows, timeCalls } from './dashboard.js';

type CallTimes = Awaited<ReturnType<typeof timeCalls>>;

import { formatRate, formatRatio, formatTable, median, processCpuSeconds } from './lib/measure.js';

const TARGET_FLOWS_PER_SECOND = 100_000;
/** Flows generated (untimed) and then loaded into each store (timed) at a time: memory stays flat. */
const CHUNK = 100_000;

const USAGE = `usage: npm run bench:clickhouse -- [options]
  --flows N       flows loaded into each store (default 10000000; about 11 minutes here)
  --calls N       calls of each dashboard API call per store; p50 / p95 reported (default 50)
  --skip-duckdb   load ClickHouse only, no DuckDB and no dashboard comparison (for profiling)
  --help          this text
`;

type Flags = ReturnType<typeof readFlags>;

function readFlags(argv: readonly string[]) {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      flows: { type: 'string', default: '10000000' },
      calls: { type: 'string', default: '50' },
      'skip-duckdb': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  return values;
}

function positive(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1)
    throw new Error(`--${name} must be a positive whole number; got ${text}`);
  return value;
}

interface Tally {
  label: string;
  store: FlowStore;
  seconds: number;
  /** CPU seconds of this process while loading (DuckDB's threads included). */
  cpuSeconds: number;
  /** CPU seconds of the ClickHouse server while loading (undefined for DuckDB or off Linux). */
  serverCpuSeconds?: number;
  serverPid?: number;
}

/** Loads one chunk into one store and adds the wall and CPU time it took until the store wrote it. */
async function loadChunk(tally: Tally, flows: readonly FlowRecord[]): Promise<void> {
  const server = tally.serverPid === undefined ? undefined : processCpuSeconds(tally.serverPid);
  const cpu = process.cpuUsage();
  const started = performance.now();
  await loadFlows(tally.store, flows);
  tally.seconds += (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  tally.cpuSeconds += (used.user + used.system) / 1e6;
  const serverNow = tally.serverPid === undefined ? undefined : processCpuSeconds(tally.serverPid);
  if (server !== undefined && serverNow !== undefined)
    tally.serverCpuSeconds = (tally.serverCpuSeconds ?? 0) + serverNow - server;
}

/** Rows of the batch the encodings are compared on (the size batches grow to under load). */
const ENCODING_ROWS = 65_536;
const ENCODING_RUNS = 5;

interface EncodingFigures {
  label: string;
  encodeMicros: number;
  insertNodeMicros: number;
  insertServerMicros?: number;
  flowsPerSecond: number;
  bytesPerFlow: number;
}

/** Encodes and inserts one batch in each format, alternating, ENCODING_RUNS times; medians. */
async function compareEncodings(server: ClickHouseTestServer, policy: Policy): Promise<EncodingFigures[]> {
  const flows: StoredFlow[] = [];
  // In the shape the store keeps (toStoredFlow), which is what its inserts encode.
  for (const flow of syntheticFlows(policy, ENCODING_ROWS, 7))
    flows.push(toStoredFlow(flow, flows.length + 1, 'bench'));
  const encodings = [
    { label: 'TabSeparated (the spool)', format: 'TabSeparated' as const, chunks: tabSeparatedChunks },
    { label: 'RowBinary (before)', format: 'RowBinary' as const, chunks: rowBinaryChunks },
    { label: 'Native (after: live inserts)', format: 'Native' as const, chunks: nativeChunks },
  ];
  const samples = encodings.map(() => ({
    encode: [] as number[],
    node: [] as number[],
    server: [] as number[],
    wall: [] as number[],
    bytes: 0,
  }));
  const pid = server.pid;
  const serverCpu = () => (pid === undefined ? undefined : processCpuSeconds(pid));
  const tables = encodings.map(
    (encoding) =>
      new ClickHouseFlowTable({ url: server.url, database: 'bench', table: `encoding_${encoding.format}` }),
  );
  try {
    for (const table of tables) await table.create();
    for (let run = 0; run <= ENCODING_RUNS; run++) {
      for (const [index, encoding] of encodings.entries()) {
        const sample = samples[index] as (typeof samples)[number];
        const table = tables[index] as ClickHouseFlowTable;
        let cpu = process.cpuUsage();
        let bytes = 0;
        for (const chunk of encoding.chunks('bench', flows)) bytes += chunk.length;
        let used = process.cpuUsage(cpu);
        // The first round warms up (JIT, the server's first part of the table) and is not counted.
        if (run > 0) sample.encode.push((used.user + used.system) / ENCODING_ROWS);
        sample.bytes = bytes / ENCODING_ROWS;
        const serverBefore = serverCpu();
        cpu = process.cpuUsage();
        const started = performance.now();
        await table.insert(
          encoding.chunks('bench', flows),
          `bench-${encoding.format}-${run}`,
          encoding.format,
        );
        const wall = (performance.now() - started) / 1000;
        used = process.cpuUsage(cpu);
        const serverAfter = serverCpu();
        if (run === 0) continue;
        sample.node.push((used.user + used.system) / ENCODING_ROWS);
        sample.wall.push(wall);
        if (serverBefore !== undefined && serverAfter !== undefined)
          sample.server.push(((serverAfter - serverBefore) * 1e6) / ENCODING_ROWS);
      }
    }
  } finally {
    for (const table of tables) await table.close();
  }
  return encodings.map((encoding, index) => {
    const sample = samples[index] as (typeof samples)[number];
    return {
      label: encoding.label,
      encodeMicros: median(sample.encode),
      insertNodeMicros: median(sample.node),
      insertServerMicros: sample.server.length === 0 ? undefined : median(sample.server),
      flowsPerSecond: ENCODING_ROWS / median(sample.wall),
      bytesPerFlow: sample.bytes,
    };
  });
}

/** `HTTP 500 PW_ERR_STORE_IO` from timeCalls' error (`PATH: HTTP STATUS BODY`), else its first line. */
function failureSummary(message: string): string {
  const http = /HTTP (\d+)/.exec(message)?.[1];
  const code = /"code":"([A-Z_]+)"/.exec(message)?.[1];
  return http === undefined
    ? (message.split('\n')[0] ?? '').slice(0, 80)
    : `HTTP ${http}${code === undefined ? '' : ` ${code}`}`;
}

const load = () =>
  loadavg()
    .map((value) => value.toFixed(2))
    .join(', ');

async function main(flags: Flags): Promise<void> {
  const count = positive('flows', flags.flows);
  const calls = positive('calls', flags.calls);
  const skipDuckDb = flags['skip-duckdb'];
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const catalog = loadBuiltinCatalog().catalog;
  const policy = Policy.compile(catalog);
  const dir = await mkdtemp(join(tmpdir(), 'pw-bench-clickhouse-'));
  const server = await ClickHouseTestServer.start();
  // Interrupted (Ctrl-C, timeout): stop the server and remove its data rather than leave them behind.
  const interrupted = (signal: NodeJS.Signals) => {
    process.stderr.write(`${signal}: stopping clickhouse-server and removing ${dir}\n`);
    void server
      .dispose()
      .then(() => rm(dir, { recursive: true, force: true }))
      .finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    const version = (await server.query('SELECT version()')).trim();
    say(`# pathwarden ClickHouse benchmark: ${count.toLocaleString('en')} flows`);
    say(`ClickHouse ${version} (one local clickhouse-server) vs DuckDB; node ${process.version}`);
    say(`load average at start: ${load()}`);
    const encodings = await compareEncodings(server, policy);
    say('');
    say(
      `## Insert encodings (one batch of ${ENCODING_ROWS.toLocaleString('en')} flows, straight into the table; median of ${ENCODING_RUNS})`,
    );
    say(
      formatTable(
        [
          'format',
          'bytes/flow',
          'node µs/flow (encode)',
          'node µs/flow (insert)',
          'server µs/flow (insert)',
          'flows/s (insert)',
        ],
        encodings.map((figures) => [
          figures.label,
          figures.bytesPerFlow.toFixed(0),
          figures.encodeMicros.toFixed(2),
          figures.insertNodeMicros.toFixed(2),
          figures.insertServerMicros?.toFixed(2) ?? 'n/a',
          formatRate(figures.flowsPerSecond),
        ]),
      ),
    );
    const [tsv, rowBinary, native] = encodings as [EncodingFigures, EncodingFigures, EncodingFigures];
    const ratios = (after: EncodingFigures, before: EncodingFigures) =>
      `encode CPU ${formatRatio(after.encodeMicros / before.encodeMicros)}, node CPU ${formatRatio(
        after.insertNodeMicros / before.insertNodeMicros,
      )}, server CPU ${
        after.insertServerMicros === undefined || before.insertServerMicros === undefined
          ? 'n/a'
          : formatRatio(after.insertServerMicros / before.insertServerMicros)
      }, insert rate ${formatRatio(after.flowsPerSecond / before.flowsPerSecond)}`;
    say(`RowBinary / TabSeparated: ${ratios(rowBinary, tsv)}`);
    say(`Native / RowBinary: ${ratios(native, rowBinary)}`);
    say(`load average after the encodings: ${load()}`);
    const clickhouse: FlowStoreConfig = {
      kind: 'clickhouse',
      url: server.url,
      database: 'bench',
      table: 'flows',
      flushIntervalMs: 1000,
      spool: join(dir, 'spool'),
      createTables: true,
    };
    const duckdbPath = join(dir, 'flows.duckdb');
    const duckdb: FlowStoreConfig = { kind: 'duckdb', path: duckdbPath, flushIntervalMs: 1000 };
    const tallies: Tally[] = [
      {
        label: 'ClickHouse',
        store: await openFlowStore(clickhouse, { gateway: 'bench' }),
        seconds: 0,
        cpuSeconds: 0,
        serverPid: server.pid,
      },
      ...(skipDuckDb
        ? []
        : [
            {
              label: 'DuckDB',
              store: await openFlowStore(duckdb, { gateway: 'bench' }),
              seconds: 0,
              cpuSeconds: 0,
            },
          ]),
    ];
    const flows = syntheticFlows(policy, count);
    let loaded = 0;
    while (loaded < count) {
      const chunk: FlowRecord[] = [];
      while (chunk.length < CHUNK) {
        const next = flows.next();
        if (next.done) break;
        chunk.push(next.value);
      }
      for (const tally of tallies) await loadChunk(tally, chunk);
      loaded += chunk.length;
      if (loaded % 1_000_000 === 0 || loaded === count)
        process.stderr.write(`  ${loaded.toLocaleString('en')} flows loaded into both stores\n`);
    }
    for (const tally of tallies) await tally.store.close();
    const stored = Number(await server.query('SELECT count() FROM bench.flows'));
    if (stored !== count) throw new Error(`ClickHouse holds ${stored} flows, not ${count}`);

    say('');
    say(`## Bulk load through the store interface (one process, chunks of ${CHUNK.toLocaleString('en')})`);
    say(
      formatTable(
        [
          'store',
          'flows/s',
          `vs ${formatRate(TARGET_FLOWS_PER_SECOND)}/s target`,
          'seconds',
          'CPU s (node + server)',
          'flows per CPU-second',
        ],
        tallies.map((tally) => {
          const rate = count / tally.seconds;
          const cpu = tally.cpuSeconds + (tally.serverCpuSeconds ?? 0);
          return [
            tally.label,
            formatRate(rate),
            formatRatio(rate / TARGET_FLOWS_PER_SECOND),
            tally.seconds.toFixed(1),
            tally.serverCpuSeconds === undefined
              ? tally.cpuSeconds.toFixed(1)
              : `${tally.cpuSeconds.toFixed(1)} + ${tally.serverCpuSeconds.toFixed(1)}`,
            formatRate(count / cpu),
          ];
        }),
      ),
    );
    const [ch, duck] = tallies as [Tally, Tally | undefined];
    if (duck !== undefined) say(`ClickHouse / DuckDB insert rate: ${formatRatio(duck.seconds / ch.seconds)}`);
    say(`load average after loading: ${load()}`);
    if (skipDuckDb) return;

    // The dashboards log what the store said when a call fails (the API answers only "the flow store
    // could not answer"): the last message per dashboard goes into the table next to the status.
    const lastErrors: (string | undefined)[] = [undefined, undefined];
    const logFor = (index: number): StoreLog => ({
      warn: () => undefined,
      error: (details) => {
        lastErrors[index] = String(details.err ?? '');
      },
    });
    const dashboards = [
      await startStoredDashboard({
        file: `clickhouse://127.0.0.1:${server.httpPort}/bench?table=flows`,
        listen: '127.0.0.1:0',
        catalog,
        log: logFor(0),
      }),
      await startStoredDashboard({ file: duckdbPath, listen: '127.0.0.1:0', catalog, log: logFor(1) }),
    ];
    try {
      const rows: string[][] = [];
      const failures: string[] = [];
      // The deep page by cursor too (the cursor asked from DuckDB: both stores hold the same flows
      // under the same ids); none when the store holds fewer flows or the question fails.
      const deepCursor = await deepCursorOf((dashboards[1]?.url ?? '').replace(/\/$/, '')).catch(
        () => undefined,
      );
      for (const [label, call] of dashboardApiCalls(Date.now() - 3_600_000, deepCursor)) {
        const timed: (CallTimes | string)[] = [];
        for (const [index, dashboard] of dashboards.entries()) {
          lastErrors[index] = undefined;
          try {
            timed.push(await timeCalls(dashboard.url.replace(/\/$/, ''), call, calls));
          } catch (error) {
            // One failed call is a row of the table, not the end of the run.
            const message = error instanceof Error ? error.message : String(error);
            const reason = lastErrors[index];
            timed.push(`failed: ${failureSummary(message)}`);
            failures.push(
              `${index === 0 ? 'ClickHouse' : 'DuckDB'}, ${label}: ${message}${reason === undefined ? '' : `; the store said: ${reason}`}`,
            );
          }
        }
        const [onClickHouse, onDuckDb] = timed as [CallTimes | string, CallTimes | string];
        const cells = (times: CallTimes | string) =>
          typeof times === 'string' ? [times, '–'] : [times.p50.toFixed(1), times.p95.toFixed(1)];
        rows.push([
          label,
          ...cells(onClickHouse),
          ...cells(onDuckDb),
          typeof onClickHouse === 'string' || typeof onDuckDb === 'string'
            ? '–'
            : formatRatio(onClickHouse.p95 / onDuckDb.p95),
        ]);
      }
      say('');
      say(
        `## Dashboard API at ${count.toLocaleString('en')} flows (${calls} calls each, after 3 warm-up calls)`,
      );
      say(
        formatTable(
          [
            'API call',
            'ClickHouse p50 ms',
            'ClickHouse p95 ms',
            'DuckDB p50 ms',
            'DuckDB p95 ms',
            'p95 ClickHouse / DuckDB',
          ],
          rows,
        ),
      );
      if (failures.length > 0) {
        say('');
        say(`${failures.length} API call(s) failed; the run went on with the others:`);
        for (const failure of failures) say(`- ${failure}`);
        process.exitCode = 1;
      }
      say(`load average at the end: ${load()}`);
    } finally {
      for (const dashboard of dashboards) await dashboard.close();
    }
  } finally {
    await server.dispose();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs the benchmark for a command line; resolves to the exit code (2: options refused). */
async function run(argv: readonly string[]): Promise<number> {
  let flags: Flags;
  try {
    flags = readFlags(argv);
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
    return 2;
  }
  if (flags.help) process.stdout.write(USAGE);
  else await main(flags);
  return 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  run(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
