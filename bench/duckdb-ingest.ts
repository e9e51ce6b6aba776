// `npm run bench:duckdb-ingest`: what the DuckDB flow store costs the event loop at a steady append
// rate, with its two ways into the table alternating in one process: `json` (each batch one INSERT of
// JSON columns, parsed by DuckDB off the event loop; the default) and `appender` (rows converted to
// data chunks on the event loop; the store before session 6). Prints, per way, the median over rounds
// of: the main thread's CPU per record (/proc/self/task/PID/stat), the whole process's, and the
// event loop's delay (p99 and max, perf_hooks). docs/performance.md, Gateway, explains the figures.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { emptyFlow, type FlowRecord } from '../src/flow/record.js';
import { type DuckDbIngest, openDuckDbFlowStore } from '../src/store/duckdb.js';
import { formatTable, median } from './lib/measure.js';

const { values: flags } = parseArgs({
  options: {
    rate: { type: 'string', default: '9000' },
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
  },
});
const rate = Number(flags.rate);
const seconds = Number(flags.seconds);
const rounds = Number(flags.rounds);
const tickMs = 10;

/** CPU microseconds of one thread of this process (the main thread: its id is the pid). */
function threadCpuUs(tid: number): number {
  const fields = (readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1] ?? '').split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100;
}

function gatewayFlow(index: number): FlowRecord {
  const now = Date.now();
  return {
    ...emptyFlow({ kind: 'gateway' }),
    start: now,
    end: now + 1,
    client: '127.0.0.1',
    host: 'api.powerbi.com',
    httpHost: 'api.powerbi.com:8080',
    destination: '127.0.0.1',
    port: 8080,
    protocol: 'http',
    component: 'saas',
    bytesUp: 120 + (index % 7),
    bytesDown: 260,
    sourceAddress: '127.0.0.2',
    connectionId: `c${index}`,
    actualPath: 'expressroute',
    actualPathEvidence: 'source 127.0.0.2',
    expectedPath: 'expressroute',
    verdict: 'ok',
    ruleId: 'paas.rest-api',
    reason: 'catalog rule paas.rest-api matches api.powerbi.com',
    egressPath: 'expressroute',
    outcome: 'forwarded',
    connectMs: 0.4,
  };
}

interface Run {
  mainUs: number;
  processUs: number;
  p99Ms: number;
  maxMs: number;
}

async function runOnce(ingest: DuckDbIngest, dir: string): Promise<Run> {
  const store = await openDuckDbFlowStore(join(dir, `${ingest}-${Date.now()}.duckdb`), 1000, {}, ingest);
  const perTick = Math.round((rate * tickMs) / 1000);
  let appended = 0;
  const delay = monitorEventLoopDelay({ resolution: 1 });
  const main0 = threadCpuUs(process.pid);
  const cpu0 = process.cpuUsage();
  delay.enable();
  const end = Date.now() + seconds * 1000;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      for (let i = 0; i < perTick; i++) store.append(gatewayFlow(appended++));
      if (Date.now() >= end) {
        clearInterval(timer);
        resolve();
      }
    }, tickMs);
  });
  await store.flush();
  delay.disable();
  const cpu = process.cpuUsage(cpu0);
  const mainUs = threadCpuUs(process.pid) - main0;
  await store.close();
  return {
    mainUs: mainUs / appended,
    processUs: (cpu.user + cpu.system) / appended,
    p99Ms: delay.percentile(99) / 1e6,
    maxMs: delay.max / 1e6,
  };
}

const dir = mkdtempSync(join(tmpdir(), 'pw-bench-ingest-'));
try {
  console.log('# DuckDB store ingest');
  console.log(`date      ${new Date().toISOString()}`);
  console.log(`node      ${process.version}; cpu ${cpus()[0]?.model ?? '?'} x ${cpus().length}`);
  const load = () =>
    loadavg()
      .map((value) => value.toFixed(2))
      .join(' ');
  const loadAtStart = load();
  console.log(`run       ${rate} records/s for ${seconds} s, ${rounds} round(s), flush interval 1000 ms`);
  const runs: Record<DuckDbIngest, Run[]> = { json: [], appender: [] };
  for (let round = 0; round < rounds; round++) {
    for (const ingest of ['appender', 'json'] as const) runs[ingest].push(await runOnce(ingest, dir));
  }
  console.log(`load      ${loadAtStart} at start, ${load()} at end (1, 5, 15 min)\n`);
  const row = (ingest: DuckDbIngest) => {
    const of = (pick: (run: Run) => number) => median(runs[ingest].map(pick));
    return [
      ingest,
      of((run) => run.mainUs).toFixed(1),
      of((run) => run.processUs).toFixed(1),
      of((run) => run.p99Ms).toFixed(2),
      of((run) => run.maxMs).toFixed(1),
    ];
  };
  console.log(
    formatTable(
      [
        'ingest',
        'main-thread CPU us/record',
        'process CPU us/record',
        'loop delay p99 ms',
        'loop delay max ms',
      ],
      [row('appender'), row('json')],
    ),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
