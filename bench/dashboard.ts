// `npm run bench:dashboard [-- --quick]`: the dashboard over a DuckDB store of 1M flows. Measures the
// admin API calls the pages make (p50 / p95 of 50 calls each, 15 with --quick) against the target,
// the same calls without the per-minute rollup and a deep page by offset as baselines in the same
// run, the live tick's statistics read, and the time from navigation start to the overview's first
// chart in Chromium (median of 5 fresh page loads; skipped with --quick).
// Targets (docs/performance.md): API p95 < 100 ms, first render < 1 s.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { createDashboardHandler } from '../src/admin/dashboard/routes.js';
import { GatewayMetrics } from '../src/admin/metrics.js';
import { startAdminServer } from '../src/admin/server.js';
import { loadBuiltinCatalog } from '../src/catalog/load.js';
import type { Component } from '../src/catalog/model.js';
import type { FlowRecord } from '../src/flow/record.js';
import type { GatewayStatus } from '../src/gateway/contracts.js';
import { Policy } from '../src/policy/policy.js';
import type { FlowStore } from '../src/store/store.js';
import { openFlowStore } from '../src/store/store.js';
import { chromiumArgs } from '../src/util/chromium.js';
import { Random } from '../src/util/random.js';
import { median } from './lib/measure.js';

const FLOWS = Number(process.env.PATHWARDEN_BENCH_FLOWS ?? 1_000_000);
const QUICK = process.argv.includes('--quick');
const API_CALLS = QUICK ? 15 : 50;
const TARGET_MS = 100;
/** The deep page: as far back as `offset=500000` went before keyset paging. */
const DEEP = 500_000;
const PAGE_LOADS = 5;
const SPAN_MS = 24 * 3_600_000;

const componentWeights: [Component, number][] = [
  ['saas', 0.7],
  ['desktop', 0.15],
  ['gateway', 0.08],
  ['paas', 0.05],
  ['mobile', 0.02],
];

/** Destinations as a gateway sees them, by the path their rule expects: catalog hosts (wildcards filled in) and unknown ones. */
function destinations(policy: Policy, prng: Random): Map<string, string[]> {
  const byPath = new Map<string, string[]>();
  const add = (host: string) => {
    const path = policy.decideHost(host).path;
    byPath.set(path, [...(byPath.get(path) ?? []), host]);
  };
  for (const rule of policy.catalog.rules) {
    for (const host of rule.hosts) {
      if (host.startsWith('*.')) for (let i = 0; i < 3; i++) add(`w${prng.below(50)}${host.slice(1)}`);
      else if (!host.includes('*')) add(host);
    }
  }
  for (let i = 0; i < 40; i++) add(`site${i}.example.net`);
  return byPath;
}

/** Share of flows per expected path: most Power BI traffic is data over the circuit. */
const pathWeights: [string, number][] = [
  ['expressroute', 0.55],
  ['either', 0.2],
  ['internet', 0.17],
  ['unknown', 0.08],
];

/**
 * Deterministic gateway-like flows over the last 24 hours: decided by the built-in catalog, sent on
 * the egress the gateway would pick, with a few leaks (circuit-bound flows seen on the Internet) and
 * a few blocked flows (circuit down).
 */
export function* syntheticFlows(
  policy: Policy,
  count: number,
  seed = 42,
  now = Date.now(),
): Generator<FlowRecord> {
  const prng = new Random(seed);
  const hosts = destinations(policy, prng);
  const first = now - SPAN_MS;
  for (let i = 0; i < count; i++) {
    let roll = prng.next();
    let hostPath = 'unknown';
    for (const [path, weight] of pathWeights) {
      if (roll < weight) {
        hostPath = path;
        break;
      }
      roll -= weight;
    }
    const host = prng.pick(hosts.get(hostPath) ?? hosts.get('unknown') ?? ['example.net']);
    roll = prng.next();
    let component: Component = 'saas';
    for (const [name, weight] of componentWeights) {
      if (roll < weight) {
        component = name;
        break;
      }
      roll -= weight;
    }
    const start = Math.floor(first + (SPAN_MS * i) / count);
    const expected = policy.decideHost(host, { component }).path;
    const leak = expected === 'expressroute' && prng.next() < 0.005;
    const blocked = !leak && expected === 'expressroute' && prng.next() < 0.003;
    const egress =
      expected === 'expressroute' || (expected === 'either' && prng.next() < 0.7)
        ? 'expressroute'
        : 'internet';
    const actualPath = blocked ? 'unknown' : leak ? 'internet' : egress;
    const decision = policy.decideHost(host, { component, port: 443, actualPath });
    yield {
      start,
      end: start + 50 + prng.below(5000),
      origin: { kind: 'gateway' },
      client: `10.1.${prng.below(4)}.${1 + prng.below(250)}`,
      host,
      sni: host,
      httpHost: null,
      destination: `20.${prng.below(256)}.${prng.below(256)}.${prng.below(256)}`,
      port: 443,
      protocol: 'tls',
      component,
      bytesUp: blocked ? 0 : 500 + prng.below(20_000),
      bytesDown: blocked ? 0 : 2000 + prng.below(500_000),
      sourceAddress: blocked ? null : actualPath === 'expressroute' ? '10.9.0.2' : '192.0.2.10',
      upstream: null,
      connectionId: null,
      actualPath,
      actualPathEvidence: blocked
        ? null
        : `source ${actualPath === 'expressroute' ? '10.9.0.2' : '192.0.2.10'}`,
      expectedPath: decision.path,
      verdict: decision.verdict,
      ruleId: decision.rule?.id ?? null,
      reason: decision.reason,
      egressPath: blocked ? null : actualPath === 'unknown' ? null : actualPath,
      outcome: blocked ? 'blocked' : 'forwarded',
      error: blocked ? 'PW_GW_CIRCUIT_DOWN' : null,
      connectMs: blocked ? null : 1 + prng.below(30),
    };
  }
}

/** Appends flows, awaiting each write so memory stays flat. */
export async function fillStore(
  store: FlowStore,
  flows: Iterable<FlowRecord>,
  progress?: (done: number) => void,
): Promise<number> {
  let count = 0;
  for (const flow of flows) {
    store.append(flow);
    if (++count % 8192 === 0) await store.flush();
    if (count % 10_000 === 0) progress?.(count);
  }
  await store.flush();
  return count;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

/**
 * The admin API calls the dashboard's pages make, labelled (shared with bench/clickhouse.ts). With
 * `deepCursor` (from deepCursorOf()) the deep page is reached by cursor, as the pages do now; the
 * offset form stays for comparison.
 */
export function dashboardApiCalls(hourAgo: number, deepCursor?: string): [string, string][] {
  return [
    ['overview: /api/stats (all flows)', '/api/stats'],
    [
      'overview: /api/stats (last hour, 30 s buckets)',
      `/api/stats?from=${hourAgo}&to=${Date.now()}&bucket=30s`,
    ],
    [
      'overview: /api/stats (last 24 h, 10 min buckets)',
      `/api/stats?from=${hourAgo - 23 * 3_600_000}&to=${Date.now()}&bucket=10m`,
    ],
    ['flows, exceptions, leaks: /api/stats (gateway list)', '/api/stats?bucket=604800000'],
    ['flows: /api/flows (no filter)', '/api/flows?limit=50'],
    ['flows: /api/flows?verdict=leak', '/api/flows?verdict=leak&limit=50'],
    [
      'flows: /api/flows?host=powerbi&component=desktop',
      '/api/flows?host=powerbi&component=desktop&limit=50',
    ],
    [
      'flows: /api/flows (host + verdict + last hour)',
      `/api/flows?host=example&verdict=unknown&from=${hourAgo}&limit=50`,
    ],
    ...(deepCursor === undefined
      ? []
      : [
          [
            `flows: /api/flows (page ${DEEP.toLocaleString('en-US')} flows deep, by cursor)`,
            `/api/flows?limit=50&cursor=${deepCursor}`,
          ] as [string, string],
        ]),
    [
      `flows: /api/flows (page at offset ${DEEP.toLocaleString('en-US')}, old form)`,
      `/api/flows?limit=50&offset=${DEEP}`,
    ],
    ['leaks: /api/flows?outcome=blocked', '/api/flows?outcome=blocked&limit=50'],
    ['exceptions: /api/exceptions', '/api/exceptions'],
  ];
}

/** The cursor that starts the page `offset` flows deep (asked once, by offset, from the API). */
export async function deepCursorOf(base: string, offset = DEEP): Promise<string> {
  const response = await fetch(`${base}/api/flows?limit=1&offset=${offset - 1}`);
  const page = (await response.json()) as { next: string | null };
  if (page.next === null) throw new Error(`the store holds fewer than ${offset + 1} flows`);
  return page.next;
}

export async function timeCalls(
  base: string,
  path: string,
  calls = API_CALLS,
): Promise<{ p50: number; p95: number }> {
  const once = async () => {
    const start = performance.now();
    const response = await fetch(`${base}${path}`);
    if (!response.ok) throw new Error(`${path}: HTTP ${response.status} ${await response.text()}`);
    await response.arrayBuffer();
    return performance.now() - start;
  };
  for (let i = 0; i < 3; i++) await once();
  const times: number[] = [];
  for (let i = 0; i < calls; i++) times.push(await once());
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p95: percentile(times, 95) };
}

/** One page load, in ms from navigation start: page ready, the overview's stats answer, first chart. */
interface RenderTiming {
  domContentLoaded: number;
  statsStart: number;
  statsEnd: number;
  chart: number;
}

async function firstRender(base: string): Promise<RenderTiming[]> {
  // launch() starts Chromium on a fresh temporary profile of its own, removed when it closes.
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [...chromiumArgs],
  });
  const timings: RenderTiming[] = [];
  try {
    for (let i = 0; i < PAGE_LOADS; i++) {
      // A fresh context per load: no cached scripts, as a first visit.
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const page = await context.newPage();
      await page.goto(`${base}/#/overview`);
      // The page marks its first chart drawn with data (src/web/pages/overview.tsx); a mark's startTime
      // is measured from navigation start. Functions, not strings: the page's CSP forbids eval.
      await page.waitForFunction(
        () => performance.getEntriesByName('pathwarden:overview-chart').length > 0,
        null,
        {
          timeout: 30_000,
        },
      );
      timings.push(
        await page.evaluate(() => {
          const at = (entry: unknown, key: string) =>
            (entry as Record<string, number> | undefined)?.[key] ?? Number.NaN;
          const stats = performance
            .getEntriesByType('resource')
            .find((entry) => entry.name.includes('/api/stats'));
          return {
            // Node's types know only the entry types Node records; the browser has `navigation` too.
            domContentLoaded: at(
              performance.getEntriesByType('navigation' as 'resource')[0],
              'domContentLoadedEventEnd',
            ),
            statsStart: at(stats, 'startTime'),
            statsEnd: at(stats, 'responseEnd'),
            chart: performance.getEntriesByName('pathwarden:overview-chart')[0]?.startTime ?? Number.NaN,
          };
        }),
      );
      await context.close();
    }
  } finally {
    await browser.close();
  }
  return timings;
}

async function main(): Promise<void> {
  // PATHWARDEN_BENCH_STORE=FILE keeps the filled store (and reuses it when it exists): filling 1M
  // flows takes minutes on a busy machine.
  const kept = process.env.PATHWARDEN_BENCH_STORE;
  const dir = kept ? undefined : await mkdtemp(join(tmpdir(), 'pathwarden-bench-dashboard-'));
  const path = kept ?? join(dir as string, 'flows.duckdb');
  const policy = Policy.compile(loadBuiltinCatalog().catalog);
  const say = (line: string) => process.stdout.write(`${line}\n`);
  try {
    if (!existsSync(path)) {
      const started = performance.now();
      const writer = await openFlowStore({ kind: 'duckdb', path, flushIntervalMs: 1000 });
      const count = await fillStore(writer, syntheticFlows(policy, FLOWS), (done) => {
        if (done % 100_000 === 0) process.stderr.write(`  ${done.toLocaleString('en-US')} flows stored\n`);
      });
      await writer.close();
      say(
        `filled ${count.toLocaleString('en-US')} flows in ${((performance.now() - started) / 1000).toFixed(1)} s`,
      );
    }
    const started = performance.now();
    const store = await openFlowStore({ kind: 'duckdb', path, flushIntervalMs: 1000 });
    const openMs = performance.now() - started;
    const flows = (await store.query({ limit: 1 })).total;
    say(`store: ${flows.toLocaleString('en-US')} flows (opened in ${openMs.toFixed(0)} ms)`);
    const status: GatewayStatus = { health: () => [], activeTunnels: () => 0 };
    const dashboard = createDashboardHandler({ store, policy, status, mode: 'stored' });
    const admin = await startAdminServer({
      listen: '127.0.0.1:0',
      store,
      metrics: new GatewayMetrics(),
      policy,
      status,
      static: dashboard,
    });
    const base = `http://${admin.address}`;
    try {
      const hourAgo = Date.now() - 3_600_000;
      const calls = dashboardApiCalls(hourAgo, await deepCursorOf(base));
      const duck = store as FlowStore & { useRollup?: boolean };
      const load = () =>
        loadavg()
          .map((value) => value.toFixed(2))
          .join(' ');
      say('');
      say(`load average before: ${load()} (${API_CALLS} calls each; target p95 < ${TARGET_MS} ms)`);
      say('');
      say('| API call | p50 ms | p95 ms | target | status |');
      say('| --- | ---: | ---: | ---: | --- |');
      const p95s = new Map<string, number>();
      for (const [label, call] of calls) {
        const { p50, p95 } = await timeCalls(base, call);
        p95s.set(call, p95);
        say(
          `| ${label} | ${p50.toFixed(1)} | ${p95.toFixed(1)} | < ${TARGET_MS} | ${p95 < TARGET_MS ? 'met' : 'MISSED'} |`,
        );
      }
      // Baselines in the same run: statistics and exceptions without the rollups, the deep page by offset.
      say('');
      say('| figure | p95 ms | baseline in this run | baseline p95 ms | ratio |');
      say('| --- | ---: | --- | ---: | ---: |');
      const deep = calls.find(([label]) => label.includes('by cursor'))?.[1] as string;
      const offset = calls.find(([label]) => label.includes('offset'))?.[1] as string;
      say(
        `| deep page by cursor | ${(p95s.get(deep) ?? Number.NaN).toFixed(1)} | the same page by offset | ${(p95s.get(offset) ?? Number.NaN).toFixed(1)} | ${((p95s.get(offset) ?? 0) / (p95s.get(deep) ?? 1)).toFixed(1)}x |`,
      );
      for (const [label, call] of calls.filter(
        ([, path]) => path.startsWith('/api/stats') || path.startsWith('/api/exceptions'),
      )) {
        duck.useRollup = false;
        const raw = await timeCalls(base, call);
        duck.useRollup = true;
        const rolled = p95s.get(call) ?? Number.NaN;
        say(
          `| ${label} | ${rolled.toFixed(1)} | without the rollup | ${raw.p95.toFixed(1)} | ${(raw.p95 / rolled).toFixed(1)}x |`,
        );
      }
      const tick = async (rollup: boolean) => {
        duck.useRollup = rollup;
        const times: number[] = [];
        for (let i = 0; i < API_CALLS; i++) {
          const started = performance.now();
          await store.stats({ series: false });
          times.push(performance.now() - started);
        }
        duck.useRollup = true;
        times.sort((a, b) => a - b);
        return percentile(times, 95);
      };
      const tickRolled = await tick(true);
      const tickRaw = await tick(false);
      say(
        `| live tick: store.stats({ series: false }) | ${tickRolled.toFixed(1)} | all-time scan | ${tickRaw.toFixed(1)} | ${(tickRaw / tickRolled).toFixed(1)}x |`,
      );
      say('');
      say(`load average after: ${load()}`);
      if (QUICK) return;
      const renders = await firstRender(base);
      const field = (key: keyof RenderTiming) => median(renders.map((timing) => timing[key])).toFixed(0);
      say('');
      say(
        `overview first render (navigation start to first chart drawn), ${PAGE_LOADS} loads: median ${field('chart')} ms (${renders.map((timing) => timing.chart.toFixed(0)).join(', ')})`,
      );
      say(
        `  medians: DOMContentLoaded ${field('domContentLoaded')} ms, /api/stats requested at ${field('statsStart')} ms and answered at ${field('statsEnd')} ms`,
      );
    } finally {
      dashboard.close();
      await admin.close();
      await store.close();
    }
  } finally {
    if (dir) await rm(dir, { recursive: true, force: true });
  }
}

const USAGE = `usage: npm run bench:dashboard -- [options]
  --quick   15 calls of each API call instead of 50, and no browser page loads
  --help    this text
The flow count is PATHWARDEN_BENCH_FLOWS (default 1000000).
`;

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const refused = (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
    process.exitCode = 2;
  };
  try {
    const { values } = parseArgs({
      options: { quick: { type: 'boolean', default: false }, help: { type: 'boolean', default: false } },
    });
    if (values.help) process.stdout.write(USAGE);
    else
      main().catch((error: unknown) => {
        process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
        process.exitCode = 1;
      });
  } catch (error) {
    refused(error);
  }
}
