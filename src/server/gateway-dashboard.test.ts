// The dashboard of a running gateway carrying real proxied traffic on loopback: egress 127.0.0.2
// (circuit) and 127.0.0.3 (Internet), a DuckDB store, a TCP health probe for the circuit. The page
// must show what the store holds, and a real circuit outage (the probe target goes away) must show
// as a banner, a path marked down and the refused flows as blocked.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { ProxyAgent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { withDashboard } from '../admin/dashboard/routes.js';
import { GatewayMetrics } from '../admin/metrics.js';
import { startAdminServer } from '../admin/server.js';
import { loadBuiltinCatalog } from '../catalog/load.js';
import { gatewayConfigSchema } from '../gateway/config.js';
import { type RunningGateway, startGateway } from '../gateway/gateway.js';
import { type Origin, startHttpOrigin } from '../gateway/testing/origins.js';
import { Policy } from '../policy/policy.js';
import type { FlowStore } from '../store/store.js';
import { openFlowStore } from '../store/store.js';
import { screenshotPath } from '../testing/output.js';
import { needPeers, peers } from '../testing/peers.js';
import { chromiumArgs } from '../util/chromium.js';

const ready = needPeers('chromium', 'build');

let dir: string;
let origin: Origin;
let probeTarget: Server;
let store: FlowStore;
let gateway: RunningGateway;
let proxy: ProxyAgent;
let browser: Browser;
let base: string;

function listenTcp(): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => socket.end());
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve({ server, port: typeof address === 'object' && address ? address.port : 0 });
    });
  });
}

/** One GET through the gateway's HTTP proxy; resolves to the status the client saw. */
async function get(host: string): Promise<number> {
  // One connection per request (`reset`): the gateway writes a flow record when a connection ends.
  const response = await request(`http://${host}:${origin.port}/report`, { dispatcher: proxy, reset: true });
  await response.body.dump();
  return response.statusCode;
}

beforeAll(async () => {
  if (!ready) return;
  dir = mkdtempSync(join(tmpdir(), 'pathwarden-dashboard-gateway-'));
  origin = await startHttpOrigin();
  const probe = await listenTcp();
  probeTarget = probe.server;
  const config = gatewayConfigSchema.parse({
    listen: '127.0.0.1:0',
    admin: '127.0.0.1:0',
    egress: { expressroute: { localAddress: '127.0.0.2' }, internet: { localAddress: '127.0.0.3' } },
    resolve: {
      'api.powerbi.com': '127.0.0.1',
      'w1.analysis.windows.net': '127.0.0.1',
      'maps.virtualearth.net': '127.0.0.1',
      'dev.virtualearth.net': '127.0.0.1',
      'intranet.lab.test': '127.0.0.1',
    },
    allowDestinations: ['127.0.0.0/8'],
    ports: [origin.port],
    store: { kind: 'duckdb', path: join(dir, 'flows.duckdb'), flushIntervalMs: 100 },
    health: {
      expressroute: {
        kind: 'tcp',
        target: `127.0.0.1:${probe.port}`,
        intervalMs: 150,
        timeoutMs: 500,
        failures: 1,
      },
    },
  });
  const metrics = new GatewayMetrics();
  store = await openFlowStore(config.store, { observer: metrics });
  gateway = await startGateway(config, {
    store,
    metrics,
    policy: Policy.compile(loadBuiltinCatalog().catalog),
    startAdmin: withDashboard(startAdminServer, { tickMs: 500 }),
  });
  base = `http://${gateway.adminAddress}`;
  // Absolute-form HTTP requests (no CONNECT), so a refusal reaches the client as a 503 response.
  proxy = new ProxyAgent({ uri: `http://${gateway.address}`, proxyTunnel: false });
  browser = await chromium.launch({
    executablePath: peers.chromium?.path,
    args: [...chromiumArgs],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await proxy?.close();
  await gateway?.close();
  probeTarget?.close();
  await origin?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const text = async (page: Page, selector: string) =>
  ((await page.locator(selector).first().textContent()) ?? '').trim();

describe.skipIf(!ready)('dashboard of a gateway carrying traffic', () => {
  test('shows the proxied flows as stored, live, and a real circuit outage with its blocked flows', async () => {
    await expect.poll(() => gateway.status.health()[0]?.state, { timeout: 10_000 }).toBe('up');
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    page.on('pageerror', (error) => errors.push(error.message));
    try {
      for (let i = 0; i < 6; i++) expect(await get('api.powerbi.com')).toBe(200);
      for (let i = 0; i < 2; i++) expect(await get('w1.analysis.windows.net')).toBe(200);
      for (let i = 0; i < 4; i++) expect(await get('maps.virtualearth.net')).toBe(200);
      expect(await get('dev.virtualearth.net')).toBe(200);
      for (let i = 0; i < 3; i++) expect(await get('intranet.lab.test')).toBe(200);
      // The origin saw the circuit source for circuit-bound hosts, the Internet source for the rest.
      expect(new Set(origin.remotes())).toEqual(new Set(['127.0.0.2', '127.0.0.3']));

      await page.goto(`${base}/#/overview`);
      await page.selectOption('#range', 'all');
      await expect.poll(async () => (await store.stats()).flows, { timeout: 10_000 }).toBe(16);
      let stats = await store.stats();
      await expect
        .poll(() => text(page, '[data-testid=total-flows]'), { timeout: 10_000 })
        .toBe(String(stats.flows));
      expect(await page.locator('[data-testid=total-bytes-down]').getAttribute('title')).toBe(
        `${stats.bytesDown} bytes`,
      );
      for (const [verdict, flows] of Object.entries(stats.byVerdict)) {
        expect(await text(page, `[data-testid=verdict-${verdict}]`), verdict).toBe(String(flows));
      }
      expect(stats.byVerdict).toMatchObject({ ok: 8, exception: 5, unknown: 3 });
      for (const [path, totals] of Object.entries(stats.byEgressPath)) {
        expect(await text(page, `[data-testid=path-flows-${path}]`), path).toBe(String(totals.flows));
      }
      expect(await text(page, '[data-testid=health-expressroute]')).toContain('Up');
      await page.locator('[data-testid=chart-bytes] canvas').first().waitFor();

      // The circuit goes away: the probe fails, the path is marked down, circuit-bound flows are refused.
      await new Promise<void>((resolve) => probeTarget.close(() => resolve()));
      await expect.poll(() => gateway.status.health()[0]?.state, { timeout: 10_000 }).toBe('down');
      const banner = page.getByRole('alert').filter({ hasText: 'ExpressRoute path down' });
      await banner.waitFor({ timeout: 10_000 });
      expect(await text(page, '[data-testid=health-expressroute]')).toContain('Down');
      expect(await get('api.powerbi.com')).toBe(503);
      expect(await get('w1.analysis.windows.net')).toBe(503);
      // Exceptions still leave on the Internet egress.
      expect(await get('maps.virtualearth.net')).toBe(200);

      stats = await store.stats();
      await expect.poll(async () => (await store.stats()).flows, { timeout: 10_000 }).toBe(19);
      stats = await store.stats();
      await expect
        .poll(() => text(page, '[data-testid=total-flows]'), { timeout: 10_000 })
        .toBe(String(stats.flows));
      expect(await text(page, '[data-testid=verdict-blocked]')).toBe(String(stats.byOutcome.blocked ?? 0));
      expect(stats.byOutcome.blocked).toBe(2);
      await page.screenshot({ path: screenshotPath('dashboard-gateway-outage.png') });

      await page.click('a[href="#/leaks"]');
      const blocked = await store.query({ outcome: 'blocked' });
      await expect.poll(() => text(page, '#blocked-title .count-pill')).toBe(String(blocked.total));
      const codes = await page.locator('[data-testid=section-blocked] td.evidence').allTextContents();
      expect(codes).toEqual(blocked.flows.map((flow) => flow.error));
      expect(codes.every((code) => code.startsWith('PW_GW_'))).toBe(true);

      await page.click('a[href="#/flows"]');
      const all = await store.query({ limit: 50 });
      await expect.poll(() => text(page, '[data-testid=total]')).toBe(String(all.total));
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  }, 60_000);
});
