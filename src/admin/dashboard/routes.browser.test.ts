// The dashboard end to end in Chromium (playwright-core driving Debian's chromium): the admin API and
// the dashboard on port 0 over a DuckDB store of known flows. The numbers on every page must match
// the store; filters, paging, the explain box, live updates, a circuit outage, the token dialog and
// keyboard navigation must work, with no console errors. Saves the screenshots docs/dashboard.md shows
// (into test-output/; `npm run docs:screenshots` refreshes docs/screenshots/).
// Code that runs in the page is passed as text (`inPage`): this file is type-checked without DOM types.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadBuiltinCatalog } from '../../catalog/load.js';
import type { Component } from '../../catalog/model.js';
import { emptyFlow, type FlowRecord } from '../../flow/record.js';
import type { PathHealth } from '../../gateway/contracts.js';
import { Policy } from '../../policy/policy.js';
import type { FlowStore } from '../../store/store.js';
import { openFlowStore } from '../../store/store.js';
import { screenshotPath } from '../../testing/output.js';
import { needPeers, peers } from '../../testing/peers.js';
import { chromiumArgs } from '../../util/chromium.js';
import { GatewayMetrics } from '../metrics.js';
import { startAdminServer } from '../server.js';
import { withDashboard } from './routes.js';

const ready = needPeers('chromium', 'build');
const policy = Policy.compile(loadBuiltinCatalog().catalog);
const token = 'e2e-admin-token-0123456789';
const now = Date.now();

/** One classified flow as the gateway records it, `minutesAgo` before the test started. */
function flow(
  host: string,
  took: 'expressroute' | 'internet' | 'blocked',
  minutesAgo: number,
  component: Component = 'saas',
): FlowRecord {
  const actualPath = took === 'blocked' ? 'unknown' : took;
  const decision = policy.decideHost(host, { component, port: 443, actualPath });
  const start = now - minutesAgo * 60_000;
  const source = took === 'expressroute' ? '127.0.0.2' : took === 'internet' ? '127.0.0.3' : null;
  return {
    ...emptyFlow({ kind: 'gateway' }),
    start,
    end: start + 1200,
    client: '10.1.2.3',
    host,
    sni: host,
    destination: '20.1.2.3',
    port: 443,
    protocol: 'tls',
    component,
    bytesUp: took === 'blocked' ? 0 : 1000 + minutesAgo,
    bytesDown: took === 'blocked' ? 0 : 50_000 + minutesAgo * 10,
    sourceAddress: source,
    actualPath,
    actualPathEvidence: source ? `source ${source}` : null,
    expectedPath: decision.path,
    verdict: decision.verdict,
    ruleId: decision.rule?.id ?? null,
    reason: decision.reason,
    egressPath: took === 'blocked' ? null : took,
    outcome: took === 'blocked' ? 'blocked' : 'forwarded',
    error: took === 'blocked' ? 'PW_GW_CIRCUIT_DOWN' : null,
  };
}

/** 122 flows over the last 50 minutes: ok, leaks, blocked, exceptions, unknown, not covered. */
function knownFlows(): FlowRecord[] {
  const flows: FlowRecord[] = [];
  const add = (count: number, make: (i: number) => FlowRecord) => {
    for (let i = 0; i < count; i++) flows.push(make(i));
  };
  add(40, (i) => flow('api.powerbi.com', 'expressroute', 50 - i, i % 4 === 0 ? 'desktop' : 'saas'));
  add(10, (i) => flow('app.powerbi.com', 'expressroute', 45 - i));
  add(5, (i) => flow('w1.analysis.windows.net', 'internet', 30 - i * 5));
  add(3, (i) => flow('w2.analysis.windows.net', 'blocked', 12 - i));
  add(30, (i) => flow('maps.virtualearth.net', 'internet', 40 - i));
  add(20, (i) => flow('content.powerapps.com', 'internet', 35 - i));
  add(12, (i) => flow(`site${i % 3}.example.net`, 'internet', 25 - i));
  add(2, (i) => flow('app.powerbi.com', 'internet', 5 - i, 'mobile'));
  return flows;
}

const gateways = ['gw-fra-1', 'gw-ams-2'] as const;
let dir: string;
let store: FlowStore;
let browser: Browser;
let base: string;
let tokenBase: string;
const health: PathHealth[] = [
  {
    path: 'expressroute',
    state: 'up',
    since: now - 3_600_000,
    lastError: null,
    history: [{ t: now - 3_600_000, state: 'up' }],
  },
  {
    path: 'internet',
    state: 'up',
    since: now - 3_600_000,
    lastError: null,
    history: [{ t: now - 3_600_000, state: 'up' }],
  },
];
const status = { health: () => health, activeTunnels: () => 7 };
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  if (!ready) return;
  dir = mkdtempSync(join(tmpdir(), 'pathwarden-dashboard-e2e-'));
  // Two gateways share the file (as a fleet shares a store): each stamps its id on what it appends.
  const config = { kind: 'duckdb', path: join(dir, 'flows.duckdb'), flushIntervalMs: 100 } as const;
  const flows = knownFlows();
  const first = await openFlowStore(config, { gateway: gateways[0] });
  for (const record of flows.filter((_, i) => i % 3 === 0)) first.append(record);
  await first.close();
  store = await openFlowStore(config, { gateway: gateways[1] });
  for (const record of flows.filter((_, i) => i % 3 !== 0)) store.append(record);
  await store.flush();
  const start = withDashboard(startAdminServer, { tickMs: 500 });
  const metrics = new GatewayMetrics();
  const open = await start({ listen: '127.0.0.1:0', token: undefined, store, metrics, policy, status });
  closers.push(() => open.close());
  base = `http://${open.address}`;
  const guarded = await start({ listen: '127.0.0.1:0', token, store, metrics, policy, status });
  closers.push(() => guarded.close());
  tokenBase = `http://${guarded.address}`;
  browser = await chromium.launch({
    executablePath: peers.chromium?.path,
    args: [...chromiumArgs],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  for (const close of closers) await close();
  await store?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Opened {
  page: Page;
  errors: string[];
  close(): Promise<void>;
}

/** A fresh browser context (fresh storage) on a page, recording console errors and page errors. */
async function openPage(url: string, viewport = { width: 1280, height: 800 }): Promise<Opened> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(url);
  return { page, errors, close: () => context.close() };
}

const text = async (page: Page, selector: string) =>
  ((await page.locator(selector).first().textContent()) ?? '').trim();
const count = (value: number) => value.toLocaleString('en-US');
const inPage = <T = unknown>(page: Page, expression: string) => page.evaluate<T>(expression);

describe.skipIf(!ready)('dashboard in Chromium', () => {
  test('overview shows the store numbers, charts and path health', async () => {
    const { page, errors, close } = await openPage(`${base}/#/overview`);
    try {
      await page.selectOption('#range', 'all');
      const stats = await store.stats();
      await expect.poll(() => text(page, '[data-testid=total-flows]')).toBe(count(stats.flows));
      expect(await page.locator('[data-testid=total-bytes-up]').getAttribute('title')).toBe(
        `${stats.bytesUp} bytes`,
      );
      expect(await page.locator('[data-testid=total-bytes-down]').getAttribute('title')).toBe(
        `${stats.bytesDown} bytes`,
      );
      for (const [verdict, flows] of Object.entries(stats.byVerdict)) {
        expect(await text(page, `[data-testid=verdict-${verdict}]`), verdict).toBe(count(flows));
      }
      expect(await text(page, '[data-testid=verdict-blocked]')).toBe(count(stats.byOutcome.blocked ?? 0));
      for (const [path, totals] of Object.entries(stats.byEgressPath)) {
        expect(await text(page, `[data-testid=path-flows-${path}]`), path).toBe(count(totals.flows));
      }
      expect(await text(page, '[data-testid=active-tunnels]')).toBe('7');
      expect(await text(page, '[data-testid=catalog-profile]')).toBe(
        `Catalog ${policy.catalog.name} ${policy.catalog.version} · profile ${policy.profile}`,
      );
      expect(await text(page, '[data-testid=health-expressroute]')).toContain('Up');
      await page.locator('[data-testid=chart-bytes] canvas').first().waitFor({ state: 'visible' });
      await page.locator('[data-testid=chart-flows] canvas').first().waitFor({ state: 'visible' });
      const marks = await inPage<number>(
        page,
        "performance.getEntriesByName('pathwarden:overview-chart').length",
      );
      expect(marks).toBe(1);
      await page.selectOption('#range', '1h');
      await expect.poll(() => text(page, '.live')).toBe('Live');
      await page.screenshot({ path: screenshotPath('dashboard-overview.png') });
      expect(errors).toEqual([]);
    } finally {
      await close();
    }
  });

  test('overview: a per-gateway table, and the gateway selector filters the numbers and the flows page', async () => {
    const { page, errors, close } = await openPage(`${base}/#/overview`);
    try {
      await page.selectOption('#range', 'all');
      const all = await store.stats();
      expect(Object.keys(all.byGateway).sort()).toEqual([...gateways].sort());
      await expect.poll(() => text(page, '[data-testid=total-flows]')).toBe(count(all.flows));
      for (const [id, totals] of Object.entries(all.byGateway)) {
        expect(await text(page, `[data-testid=gateway-flows-${id}]`), id).toBe(count(totals.flows));
      }
      const chosen = gateways[0];
      const one = await store.stats({ gateway: chosen });
      expect(one.flows).toBeGreaterThan(0);
      expect(one.flows).toBeLessThan(all.flows);
      await page.selectOption('#gateway', chosen);
      await expect.poll(() => text(page, '[data-testid=total-flows]')).toBe(count(one.flows));
      expect(page.url()).toContain(`gateway=${chosen}`);
      expect(await page.locator('[data-testid=total-bytes-up]').getAttribute('title')).toBe(
        `${one.bytesUp} bytes`,
      );
      for (const [verdict, flows] of Object.entries(one.byVerdict)) {
        expect(await text(page, `[data-testid=verdict-${verdict}]`), verdict).toBe(count(flows));
      }
      // The table still shows the whole fleet, so the chosen gateway can be compared with the others.
      expect(await text(page, `[data-testid=gateway-flows-${gateways[1]}]`)).toBe(
        count(all.byGateway[gateways[1]]?.flows ?? -1),
      );
      await page.screenshot({ path: screenshotPath('dashboard-overview-gateway.png') });

      // The verdict links carry the gateway to the flows page, whose query and form keep it.
      await page.click('[data-verdict=ok] a');
      await page.locator('#f-gateway').waitFor();
      const ok = await store.query({ gateway: chosen, verdict: 'ok', limit: 50 });
      expect(ok.total).toBeGreaterThan(0);
      await expect.poll(() => text(page, '[data-testid=total]')).toBe(count(ok.total));
      expect(await page.locator('#f-gateway').inputValue()).toBe(chosen);
      expect(errors).toEqual([]);
    } finally {
      await close();
    }
  });

  test('new flows arrive live, and a circuit outage shows on every page', async () => {
    const { page, errors, close } = await openPage(`${base}/#/overview`);
    try {
      await page.selectOption('#range', 'all');
      const before = (await store.stats()).flows;
      await expect.poll(() => text(page, '[data-testid=total-flows]')).toBe(count(before));
      for (let i = 0; i < 3; i++) store.append(flow('api.powerbi.com', 'expressroute', 0));
      await expect
        .poll(() => text(page, '[data-testid=total-flows]'), { timeout: 15_000 })
        .toBe(count(before + 3));

      const down = Date.now();
      health[0] = {
        path: 'expressroute',
        state: 'down',
        since: down,
        lastError: 'tcp probe 10.9.0.1:443: connect ETIMEDOUT',
        history: [...(health[0]?.history ?? []), { t: down, state: 'down' }],
      };
      const banner = page.getByRole('alert').filter({ hasText: 'ExpressRoute path down' });
      await banner.waitFor({ timeout: 10_000 });
      expect(await banner.textContent()).toContain('fail closed');
      expect(await text(page, '[data-testid=health-expressroute]')).toContain('Down');
      await page.screenshot({ path: screenshotPath('dashboard-outage.png') });
      await page.click('a[href="#/flows"]');
      await page.getByRole('alert').filter({ hasText: 'ExpressRoute path down' }).waitFor();

      health[0] = { ...(health[0] as PathHealth), state: 'up', since: Date.now(), lastError: null };
      await banner.waitFor({ state: 'detached', timeout: 10_000 });
      expect(errors).toEqual([]);
    } finally {
      await close();
    }
  });

  test('flows: filters and paging run in the store and match it', async () => {
    const { page, errors, close } = await openPage(`${base}/#/flows`);
    try {
      const all = await store.query({ limit: 50 });
      await expect.poll(() => text(page, '[data-testid=total]')).toBe(count(all.total));
      expect(await page.locator('table.flows tbody tr[data-flow-id]').count()).toBe(50);
      expect(
        await page.locator('table.flows tbody tr[data-flow-id]').first().getAttribute('data-flow-id'),
      ).toBe(String(all.flows[0]?.id));

      // A slow answer must not show the next page's position over the previous page's rows: cursor
      // pages are held back, so the position and the rows must change together.
      await page.route(/\/api\/flows\?.*cursor=/, async (route) => {
        await new Promise((resolve) => setTimeout(resolve, 500));
        await route.continue();
      });
      await page.getByRole('link', { name: 'Next' }).click();
      const second = await store.query({ limit: 50, offset: 50 });
      await expect.poll(() => text(page, '.pager-position')).toBe(`51–100 of ${count(all.total)}`);
      expect(
        await page.locator('table.flows tbody tr[data-flow-id]').first().getAttribute('data-flow-id'),
      ).toBe(String(second.flows[0]?.id));
      // Paged by cursor: the URL carries the store's `next`, and Previous goes back without offsets.
      expect(page.url()).toContain(`cursor=${all.next}`);
      expect(page.url()).not.toContain('offset=');
      await page.getByRole('link', { name: 'Next' }).click();
      await expect
        .poll(() => text(page, '.pager-position'))
        .toBe(`101–${count(Math.min(150, all.total))} of ${count(all.total)}`);
      await page.getByRole('link', { name: 'Previous' }).click();
      await expect.poll(() => text(page, '.pager-position')).toBe(`51–100 of ${count(all.total)}`);
      await page.getByRole('link', { name: 'Previous' }).click();
      await expect.poll(() => text(page, '.pager-position')).toBe(`1–50 of ${count(all.total)}`);
      await expect
        .poll(() => page.locator('table.flows tbody tr[data-flow-id]').first().getAttribute('data-flow-id'))
        .toBe(String(all.flows[0]?.id));

      await page.getByLabel('Host, SNI or address contains').fill('analysis');
      await page.getByLabel('Verdict').selectOption('leak');
      await page.getByRole('button', { name: 'Apply filters' }).click();
      const leaks = await store.query({ host: 'analysis', verdict: 'leak' });
      await expect.poll(() => text(page, '[data-testid=total]')).toBe(count(leaks.total));
      expect(leaks.total).toBe(5);
      expect(page.url()).toContain('verdict=leak');
      const hosts = await page.locator('table.flows tbody tr[data-flow-id] td.host').allTextContents();
      expect(hosts.every((host) => host.includes('analysis'))).toBe(true);

      // Component and time range: the store answers the same question.
      await page.getByRole('link', { name: 'Clear' }).click();
      await expect.poll(() => page.getByLabel('Host, SNI or address contains').inputValue()).toBe('');
      await page.getByLabel('Component').selectOption('desktop');
      const from = new Date(now - 45 * 60_000);
      from.setMilliseconds(0);
      const local = (d: Date) =>
        `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}T${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}:${String(d.getSeconds()).padStart(2, '0')}`;
      await page.getByLabel('From (local time)').fill(local(from));
      await page.getByRole('button', { name: 'Apply filters' }).click();
      const desktop = await store.query({ component: 'desktop', from: from.getTime() });
      await expect.poll(() => text(page, '[data-testid=total]')).toBe(count(desktop.total));
      expect(desktop.total).toBeGreaterThan(0);
      expect(desktop.total).toBeLessThan(10);

      // A record opens in place with its evidence.
      const firstId = await page
        .locator('table.flows tbody tr[data-flow-id]')
        .first()
        .getAttribute('data-flow-id');
      await page.getByRole('button', { name: `#${firstId}` }).click();
      await expect.poll(() => text(page, `#flow-detail-${firstId}`)).toContain('source 127.0.0.2');
      await page.goto(`${base}/#/flows?host=powerbi`);
      const powerbi = await store.query({ host: 'powerbi', limit: 50 });
      await expect.poll(() => text(page, '[data-testid=total]')).toBe(count(powerbi.total));
      await page.getByRole('button', { name: `#${powerbi.flows[0]?.id}` }).click();
      await page.locator(`#flow-detail-${powerbi.flows[0]?.id}`).waitFor();
      await page.screenshot({ path: screenshotPath('dashboard-flows.png') });
      expect(errors).toEqual([]);
    } finally {
      await close();
    }
  });

  test('leaks and blocked: every one listed with its evidence, linked to its flow record', async () => {
    const { page, errors, close } = await openPage(`${base}/#/leaks`);
    try {
      const leaks = await store.query({ verdict: 'leak' });
      const blocked = await store.query({ outcome: 'blocked' });
      await expect.poll(() => text(page, '#leaks-title .count-pill')).toBe(count(leaks.total));
      await expect.poll(() => text(page, '#blocked-title .count-pill')).toBe(count(blocked.total));
      const leakRows = page.locator('[data-testid=section-leaks] tr[data-flow-id]');
      expect(await leakRows.count()).toBe(leaks.total);
      expect(await page.locator('[data-testid=section-leaks] td.evidence').allTextContents()).toEqual(
        leaks.flows.map((f) => f.actualPathEvidence),
      );
      expect(await page.locator('[data-testid=section-blocked] td.evidence').allTextContents()).toEqual(
        blocked.flows.map(() => 'PW_GW_CIRCUIT_DOWN'),
      );
      await page.screenshot({ path: screenshotPath('dashboard-leaks.png') });

      const target = leaks.flows[0];
      await page
        .locator('[data-testid=section-leaks]')
        .getByRole('button', { name: `#${target?.id}` })
        .click();
      await page.getByRole('link', { name: `Open record #${target?.id} in Flows` }).click();
      await page.locator(`#flow-detail-${target?.id}`).waitFor();
      expect(page.url()).toContain(`open=${target?.id}`);
      expect(await text(page, `#flow-detail-${target?.id}`)).toContain(target?.reason ?? 'missing');

      // The gateway selector narrows both lists to one gateway's flows, as on the overview.
      await page.goto(`${base}/#/leaks`);
      const chosen = gateways[1];
      const oneLeaks = await store.query({ verdict: 'leak', gateway: chosen });
      const oneBlocked = await store.query({ outcome: 'blocked', gateway: chosen });
      expect(oneLeaks.total).toBeLessThan(leaks.total);
      await page.selectOption('#gateway', chosen);
      await expect.poll(() => text(page, '#leaks-title .count-pill')).toBe(count(oneLeaks.total));
      await expect.poll(() => text(page, '#blocked-title .count-pill')).toBe(count(oneBlocked.total));
      expect(page.url()).toContain(`gateway=${chosen}`);
      await expect
        .poll(() => page.locator('[data-testid=section-leaks] tr[data-flow-id]').count())
        .toBe(oneLeaks.flows.length);
      expect(errors).toEqual([]);
    } finally {
      await close();
    }
  });

  test('exceptions: per rule and destination, with the rule citation', async () => {
    const { page, errors, close } = await openPage(`${base}/#/exceptions`);
    try {
      const groups = (await store.groups?.({ verdict: 'exception' })) ?? [];
      const perRule = new Map<string, number>();
      for (const group of groups)
        perRule.set(group.ruleId ?? '', (perRule.get(group.ruleId ?? '') ?? 0) + group.flows);
      await page.locator('section.exception').first().waitFor();
      expect(await page.locator('section.exception').count()).toBe(perRule.size);
      for (const [ruleId, flows] of perRule) {
        const card = page.locator(`section.exception[data-rule="${ruleId}"]`);
        expect(
          await text(page, `section.exception[data-rule="${ruleId}"] [data-testid=exception-flows]`),
        ).toBe(count(flows));
        const rule = policy.catalog.rules.find((candidate) => candidate.id === ruleId);
        expect(await card.locator('.citation q').textContent()).toBe(rule?.source);
      }
      const maps = page.locator('section.exception[data-rule="saas.maps"]');
      expect(await maps.getByRole('link', { name: 'maps.virtualearth.net' }).getAttribute('href')).toBe(
        '#/flows?host=maps.virtualearth.net&verdict=exception',
      );
      await page.screenshot({ path: screenshotPath('dashboard-exceptions.png') });

      // One gateway's exceptions: the counts follow, and the destination links keep the gateway.
      const chosen = gateways[0];
      const oneGroups = (await store.groups?.({ verdict: 'exception', gateway: chosen })) ?? [];
      const oneTotal = oneGroups.reduce((sum, group) => sum + group.flows, 0);
      expect(oneTotal).toBeLessThan(groups.reduce((sum, group) => sum + group.flows, 0));
      await page.selectOption('#gateway', chosen);
      expect(page.url()).toContain(`gateway=${chosen}`);
      await expect
        .poll(async () =>
          (await page.locator('[data-testid=exception-flows]').allTextContents()).reduce(
            (sum, flows) => sum + Number(flows.replace(/,/g, '')),
            0,
          ),
        )
        .toBe(oneTotal);
      expect(
        await page.locator('section.exception a[href^="#/flows"]').first().getAttribute('href'),
      ).toContain(`gateway=${chosen}`);
      expect(errors).toEqual([]);
    } finally {
      await close();
    }
  });

  test('catalog: every rule with its source, and the explain box answers', async () => {
    const { page, errors, close } = await openPage(`${base}/#/catalog`);
    try {
      await page.locator('table.rules tbody tr').first().waitFor();
      expect(await page.locator('table.rules tbody tr').count()).toBe(policy.catalog.rules.length);
      await page.getByLabel('URL, host name or IP address').fill('https://api.powerbi.com/v1.0/myorg/groups');
      await page.getByRole('button', { name: 'Explain' }).click();
      const decision = policy.decide('https://api.powerbi.com/v1.0/myorg/groups');
      await expect.poll(() => text(page, '[data-testid=explain-reason]')).toBe(decision.reason);
      expect(await text(page, '[data-testid=explain-path]')).toContain('ExpressRoute');

      await page.getByLabel('URL, host name or IP address').fill('not a target at all');
      await page.getByRole('button', { name: 'Explain' }).click();
      await page.locator('[data-testid=explain-answer] [role=alert]').waitFor();

      await page.getByLabel('URL, host name or IP address').fill('maps.virtualearth.net');
      await page.getByRole('button', { name: 'Explain' }).click();
      await expect.poll(() => text(page, '[data-testid=explain-reason]')).toContain('saas.maps');
      await page.getByLabel(/Filter rules/).fill('virtualearth');
      await expect
        .poll(() => page.locator('table.rules tbody tr').count())
        .toBeLessThan(policy.catalog.rules.length);
      await page.screenshot({ path: screenshotPath('dashboard-catalog.png') });
      // The bad target above was answered by a 400, which Chromium reports as a failed resource load.
      expect(errors.filter((error) => !error.includes('status of 400'))).toEqual([]);
    } finally {
      await close();
    }
  });

  test('keyboard: skip link, every page reachable from the navigation, focus visible and moved to the page', async () => {
    const { page, errors, close } = await openPage(`${base}/#/overview`);
    try {
      await page.locator('[data-testid=total-flows]').waitFor();
      await page.keyboard.press('Tab');
      expect(await inPage(page, 'document.activeElement?.textContent')).toBe('Skip to content');
      await page.keyboard.press('Enter');
      expect(await inPage(page, 'document.activeElement?.id')).toBe('main');

      for (const [name, hash] of [
        ['Exceptions', '#/exceptions'],
        ['Leaks and blocked', '#/leaks'],
        ['Flows', '#/flows'],
        ['Catalog', '#/catalog'],
        ['Overview', '#/overview'],
      ] as const) {
        let found = false;
        for (let i = 0; i < 20 && !found; i++) {
          await page.keyboard.press('Shift+Tab');
          found = (await inPage(page, 'document.activeElement?.textContent?.trim()')) === name;
        }
        expect(found, `reach ${name} with the keyboard`).toBe(true);
        const outline = await inPage<{ style: string; width: number }>(
          page,
          '(() => { const s = getComputedStyle(document.activeElement); return { style: s.outlineStyle, width: parseFloat(s.outlineWidth) }; })()',
        );
        expect(outline.style).toBe('solid');
        expect(outline.width).toBeGreaterThanOrEqual(2);
        await page.keyboard.press('Enter');
        await expect.poll(() => inPage(page, 'location.hash')).toBe(hash);
        await expect
          .poll(() =>
            inPage(
              page,
              "(document.activeElement?.tagName ?? '') + (document.activeElement?.textContent ?? '')",
            ),
          )
          .toBe(`H1${name}`);
        expect(await page.locator('a[aria-current=page]').textContent()).toBe(name);
      }
      // Landmarks for screen readers.
      expect(await page.locator('header').count()).toBe(1);
      expect(await page.locator('nav[aria-label="Dashboard pages"]').count()).toBe(1);
      expect(await page.locator('main').count()).toBe(1);
      expect(errors).toEqual([]);
    } finally {
      await close();
    }
  });

  test('text contrast is at least WCAG AA on every page (4.5:1, 3:1 for large text)', async () => {
    // Every element with its own text: its colour against the first opaque background behind it.
    const probe = `(() => {
      const rgb = (text) => (text.match(/[\\d.]+/g) || []).map(Number);
      const out = [];
      for (const element of document.querySelectorAll('body *')) {
        const own = [...element.childNodes].some((node) => node.nodeType === 3 && node.textContent.trim() !== '');
        if (!own || element.closest('.uplot') || element.getClientRects().length === 0) continue;
        const style = getComputedStyle(element);
        if (style.visibility === 'hidden' || element.closest('.visually-hidden')) continue;
        let background = null;
        for (let node = element; node && !background; node = node.parentElement) {
          const color = rgb(getComputedStyle(node).backgroundColor);
          if (color.length === 3 || (color.length === 4 && color[3] === 1)) background = color.slice(0, 3);
        }
        const size = parseFloat(style.fontSize);
        const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
        out.push({ text: element.textContent.trim().slice(0, 40), color: rgb(style.color).slice(0, 3), background: background || [255, 255, 255], large });
      }
      return out;
    })()`;
    const luminance = (rgb: number[]) => {
      const [r, g, b] = rgb.map((value) => {
        const c = value / 255;
        return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
      }) as [number, number, number];
      return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const ratio = (a: number[], b: number[]) => {
      const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
      return (hi + 0.05) / (lo + 0.05);
    };
    health[0] = { ...(health[0] as PathHealth), state: 'down', lastError: 'probe failed' };
    try {
      for (const hash of [
        '#/overview',
        '#/exceptions',
        '#/leaks',
        '#/flows?verdict=leak&open=1',
        '#/catalog',
      ]) {
        const { page, close } = await openPage(`${base}/${hash}`);
        try {
          await page.locator('main h1').waitFor();
          await page.getByRole('alert').filter({ hasText: 'path down' }).waitFor();
          await page.waitForTimeout(500);
          const samples = await inPage<
            { text: string; color: number[]; background: number[]; large: boolean }[]
          >(page, probe);
          expect(samples.length, hash).toBeGreaterThan(10);
          const failing = samples
            .map((sample) => ({ ...sample, ratio: ratio(sample.color, sample.background) }))
            .filter((sample) => sample.ratio < (sample.large ? 3 : 4.5));
          expect(failing, hash).toEqual([]);
        } finally {
          await close();
        }
      }
    } finally {
      health[0] = { ...(health[0] as PathHealth), state: 'up', lastError: null };
    }
  }, 120_000);

  test('narrow screen (390 px): no horizontal page scroll, every page link visible', async () => {
    for (const [name, url] of [
      ['overview', `${base}/#/overview`],
      ['flows', `${base}/#/flows`],
    ] as const) {
      const { page, errors, close } = await openPage(url, { width: 390, height: 844 });
      try {
        await page.locator('main h1').waitFor();
        if (name === 'overview') await page.locator('[data-testid=chart-bytes] canvas').first().waitFor();
        else await page.locator('table.flows').waitFor();
        const overflow = await inPage<number>(
          page,
          'document.documentElement.scrollWidth - window.innerWidth',
        );
        expect(overflow, name).toBeLessThanOrEqual(0);
        for (const link of await page.locator('nav[aria-label="Dashboard pages"] a').all()) {
          expect(await link.isVisible()).toBe(true);
          const box = await link.boundingBox();
          expect((box?.x ?? -1) + (box?.width ?? 0)).toBeLessThanOrEqual(390);
        }
        await page.screenshot({ path: screenshotPath(`dashboard-${name}-narrow.png`) });
        expect(errors).toEqual([]);
      } finally {
        await close();
      }
    }
  });

  test('admin token: asked once, kept in this tab only, sent as a bearer header (never in a URL)', async () => {
    const { page, errors, close } = await openPage(`${tokenBase}/#/overview`);
    const urls: string[] = [];
    page.on('request', (request) => urls.push(request.url()));
    const authorized: string[] = [];
    page.on('request', (request) => {
      if (request.headers().authorization === `Bearer ${token}`)
        authorized.push(new URL(request.url()).pathname);
    });
    try {
      const dialog = page.getByRole('dialog', { name: 'Admin token' });
      await dialog.waitFor();
      await dialog.getByLabel('Token').fill('not-the-right-token-000');
      await dialog.getByRole('button', { name: 'Use token' }).click();
      await dialog.getByText('The token was not accepted.').waitFor();
      await dialog.getByLabel('Token').fill(token);
      await dialog.getByRole('button', { name: 'Use token' }).click();
      await dialog.waitFor({ state: 'hidden' });
      await page.selectOption('#range', 'all');
      const stats = await store.stats();
      await expect.poll(() => text(page, '[data-testid=total-flows]')).toBe(count(stats.flows));
      await expect.poll(() => text(page, '.live')).toBe('Live');
      expect(await inPage(page, "sessionStorage.getItem('pathwarden.adminToken')")).toBe(token);
      expect(await inPage(page, 'localStorage.length')).toBe(0);
      expect(urls.some((url) => url.includes(token))).toBe(false);
      expect(authorized).toEqual(expect.arrayContaining(['/api/status', '/api/stats', '/api/events']));

      // A new tab of the same session starts without it: sessionStorage is per tab.
      const other = await page.context().newPage();
      await other.goto(`${tokenBase}/#/overview`);
      await other.getByRole('dialog', { name: 'Admin token' }).waitFor();
      expect(await inPage(other, "sessionStorage.getItem('pathwarden.adminToken')")).toBeNull();
      // Only the expected 401 answers (before a token was given) were reported.
      expect(errors.filter((error) => !error.includes('status of 401'))).toEqual([]);
    } finally {
      await close();
    }
  });
});
