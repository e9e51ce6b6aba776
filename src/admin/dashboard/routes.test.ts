// The dashboard's server side over real HTTP on port 0: static files (types, caching, compression,
// no way out of the build folder), the bearer token, /api/catalog, /api/exceptions, /api/status and
// the /api/events stream (health on connect and on change, ticks, heartbeats, clean close).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { loadBuiltinCatalog } from '../../catalog/load.js';
import { selectProfile } from '../../catalog/profiles.js';
import { emptyFlow, type FlowRecord } from '../../flow/record.js';
import type { PathHealth } from '../../gateway/contracts.js';
import { Policy } from '../../policy/policy.js';
import type { FlowStore } from '../../store/store.js';
import { openFlowStore } from '../../store/store.js';
import {
  type CatalogView,
  createDashboardHandler,
  type DashboardHandler,
  type DashboardStatus,
  type ExceptionsView,
} from './routes.js';
import { detectFlowFile, openStoredFlows } from './source.js';

const policy = Policy.compile(loadBuiltinCatalog().catalog);
const quietLog = { warn: () => undefined, error: () => undefined };
const t0 = Date.UTC(2026, 0, 15, 12, 0, 0);

/** A classified gateway record for `host`, decided by the built-in catalog on the path it took. */
function flow(host: string, actualPath: 'expressroute' | 'internet', minutes = 0, bytes = 100): FlowRecord {
  const decision = policy.decideHost(host, { component: 'saas', actualPath });
  return {
    ...emptyFlow({ kind: 'gateway' }),
    start: t0 + minutes * 60_000,
    end: t0 + minutes * 60_000 + 100,
    host,
    sni: host,
    destination: '20.1.2.3',
    port: 443,
    component: 'saas',
    bytesUp: bytes,
    bytesDown: bytes * 10,
    actualPath,
    actualPathEvidence: `source ${actualPath === 'expressroute' ? '127.0.0.2' : '127.0.0.3'}`,
    expectedPath: decision.path,
    verdict: decision.verdict,
    ruleId: decision.rule?.id ?? null,
    reason: decision.reason,
    egressPath: actualPath,
    outcome: 'forwarded',
  };
}

interface Harness {
  base: string;
  store: FlowStore;
  handler: DashboardHandler;
  health: PathHealth[];
  server: Server;
}

let dir: string;
let open: Harness[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pathwarden-dashboard-routes-'));
  const web = join(dir, 'web');
  mkdirSync(join(web, 'assets'), { recursive: true });
  writeFileSync(join(web, 'index.html'), `<!doctype html><title>t</title>${'<p>dashboard</p>'.repeat(100)}`);
  writeFileSync(join(web, 'assets', 'index-abc123.js'), `console.log(${JSON.stringify('x'.repeat(2000))});`);
  writeFileSync(join(web, 'assets', 'index-abc123.css'), 'body{color:#000}');
  // Beside the build folder: must never be reachable.
  writeFileSync(join(dir, 'secret.txt'), 'secret');
});

afterEach(async () => {
  for (const harness of open) {
    harness.handler.close();
    await new Promise<void>((resolve) => harness.server.close(() => resolve()));
    await harness.store.close();
  }
  open = [];
  rmSync(dir, { recursive: true, force: true });
});

async function start(
  options: { token?: string; flows?: FlowRecord[]; heartbeatMs?: number; policy?: Policy } = {},
): Promise<Harness> {
  const store = await openFlowStore(
    { kind: 'jsonl', path: join(dir, `flows-${open.length}.jsonl`), flushIntervalMs: 50 },
    { log: quietLog },
  );
  for (const record of options.flows ?? []) store.append(record);
  await store.flush();
  const health: PathHealth[] = [
    { path: 'expressroute', state: 'up', since: t0, lastError: null, history: [{ t: t0, state: 'up' }] },
    { path: 'internet', state: 'up', since: t0, lastError: null, history: [{ t: t0, state: 'up' }] },
  ];
  const handler = createDashboardHandler({
    store,
    policy: options.policy ?? policy,
    status: { health: () => health, activeTunnels: () => 3 },
    token: options.token,
    webRoot: join(dir, 'web'),
    tickMs: 50,
    heartbeatMs: options.heartbeatMs ?? 60_000,
  });
  const server = createServer((req, res) => {
    if (!handler(req, res)) res.writeHead(404).end('not the dashboard\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const harness = {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    store,
    handler,
    health,
    server,
  };
  open.push(harness);
  return harness;
}

/** A raw GET: fetch would normalize `..` out of the path before sending it. */
function rawGet(base: string, path: string, headers: Record<string, string> = {}) {
  const url = new URL(base);
  return new Promise<{
    status: number;
    headers: Record<string, string | string[] | undefined>;
    body: Buffer;
  }>((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

describe('static files', () => {
  test('serve the page with its content type, CSP and revalidation; hashed assets are immutable', async () => {
    const { base } = await start();
    const page = await rawGet(base, '/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['cache-control']).toBe('no-cache');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect(page.body.toString()).toContain('<p>dashboard</p>');

    const script = await rawGet(base, '/assets/index-abc123.js');
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(script.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(script.headers['x-content-type-options']).toBe('nosniff');
    const css = await rawGet(base, '/assets/index-abc123.css');
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
  });

  test('compress for clients that accept gzip and answer 304 to a matching ETag', async () => {
    const { base } = await start();
    const gzipped = await rawGet(base, '/assets/index-abc123.js', { 'accept-encoding': 'gzip, br' });
    expect(gzipped.headers['content-encoding']).toBe('gzip');
    expect(gzipped.body.length).toBeLessThan(2000);
    const etag = gzipped.headers.etag as string;
    const again = await rawGet(base, '/assets/index-abc123.js', { 'if-none-match': etag });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
  });

  test.each([
    '/../secret.txt',
    '/assets/../../secret.txt',
    '/%2e%2e/secret.txt',
    '/assets/%2e%2e%2f%2e%2e%2fsecret.txt',
    '/..%5csecret.txt',
    '//secret.txt',
    '/assets/index-abc123.js%00.html',
    '/secret.txt',
  ])('never leave the build folder: %s', async (path) => {
    const { base } = await start();
    const response = await rawGet(base, path);
    expect(response.status).toBe(404);
    expect(response.body.toString()).not.toContain('secret');
  });

  test('a missing build answers the page with a hint, and everything else falls through', async () => {
    rmSync(join(dir, 'web'), { recursive: true });
    const { base } = await start();
    const page = await rawGet(base, '/');
    expect(page.status).toBe(404);
    expect(JSON.parse(page.body.toString())).toMatchObject({ error: { code: 'PW_ERR_NOT_FOUND' } });
    expect((await rawGet(base, '/metrics')).body.toString()).toBe('not the dashboard\n');
  });
});

describe('the bearer token', () => {
  test('guards the dashboard API but not the page that asks for it', async () => {
    const token = 'a-token-of-sixteen-chars';
    const { base } = await start({ token });
    expect((await rawGet(base, '/')).status).toBe(200);
    for (const path of ['/api/catalog', '/api/status', '/api/exceptions', '/api/events']) {
      const denied = await rawGet(base, path);
      expect(denied.status, path).toBe(401);
      expect(denied.headers['www-authenticate']).toBe('Bearer realm="pathwarden"');
      expect((await rawGet(base, path, { authorization: 'Bearer wrong-token-wrong-token' })).status).toBe(
        401,
      );
    }
    const allowed = await rawGet(base, '/api/catalog', { authorization: `Bearer ${token}` });
    expect(allowed.status).toBe(200);
  });
});

describe('dashboard API', () => {
  test('/api/catalog lists every rule with its source', async () => {
    const { base } = await start();
    const catalog = (await (await fetch(`${base}/api/catalog`)).json()) as {
      rules: { id: string; source: string }[];
      sources: Record<string, { title: string }>;
    };
    expect(catalog.rules.length).toBe(policy.catalog.rules.length);
    expect(catalog.rules.every((rule) => rule.source.length > 0)).toBe(true);
    expect(catalog.sources.seed?.title).toContain('Power BI and ExpressRoute');
  });

  test('/api/status reports mode, health and tunnels', async () => {
    const { base } = await start();
    const status = (await (await fetch(`${base}/api/status`)).json()) as Record<string, unknown>;
    expect(status).toMatchObject({
      mode: 'gateway',
      store: 'jsonl',
      activeTunnels: 3,
      catalog: { name: 'powerbi', version: policy.catalog.version, profile: 'current' },
    });
  });

  test('/api/status and /api/catalog name the catalog profile that answers', async () => {
    const view = selectProfile(loadBuiltinCatalog().catalog, 'private-link');
    const { base } = await start({ policy: Policy.compile(view) });
    const status = (await (await fetch(`${base}/api/status`)).json()) as DashboardStatus;
    expect(status.catalog).toEqual({
      name: view.name,
      version: view.version,
      title: view.title ?? null,
      profile: 'private-link',
    });
    const catalog = (await (await fetch(`${base}/api/catalog`)).json()) as CatalogView;
    expect(catalog.profile).toBe('private-link');
    expect(catalog.rules.map((rule) => rule.id)).toEqual(view.rules.map((rule) => rule.id));
  });

  test('/api/exceptions groups exception flows per rule and destination, with the rule citation', async () => {
    const flows = [
      flow('maps.virtualearth.net', 'internet', 1, 10),
      flow('maps.virtualearth.net', 'internet', 2, 10),
      flow('dev.virtualearth.net', 'internet', 3, 10),
      flow('api.powerbi.com', 'internet', 4), // a leak, not an exception
      flow('api.powerbi.com', 'expressroute', 5), // ok
    ];
    const { base, store } = await start({ flows });
    const view = (await (await fetch(`${base}/api/exceptions`)).json()) as ExceptionsView;
    const expected = (await store.groups?.({ verdict: 'exception' })) ?? [];
    expect(view.partial).toBe(false);
    expect(view.flows).toBe(3);
    expect(view.groups.reduce((sum, group) => sum + group.flows, 0)).toBe(3);
    const maps = view.groups.find((group) =>
      group.destinations.some((d) => d.host === 'maps.virtualearth.net'),
    );
    const rule = policy.catalog.rules.find((candidate) => candidate.id === maps?.ruleId);
    expect(maps?.source).toBe(rule?.source);
    expect(maps?.activity).toBe(rule?.activity);
    expect(maps?.destinations.find((d) => d.host === 'maps.virtualearth.net')).toMatchObject({
      flows: 2,
      bytesUp: 20,
      bytesDown: 200,
      lastSeen: t0 + 2 * 60_000,
    });
    expect(expected.reduce((sum, group) => sum + group.flows, 0)).toBe(3);

    // In a time range: only the first exception flow.
    const ranged = (await (
      await fetch(`${base}/api/exceptions?from=${t0}&to=${t0 + 90_000}`)
    ).json()) as ExceptionsView;
    expect(ranged.flows).toBe(1);
    expect((await fetch(`${base}/api/exceptions?from=yesterday`)).status).toBe(400);

    // Per gateway: these flows were stored without a gateway id, so another gateway has none.
    const other = (await (await fetch(`${base}/api/exceptions?gateway=gw-other`)).json()) as ExceptionsView;
    expect(other).toMatchObject({ flows: 0, groups: [] });
    expect(((await (await fetch(`${base}/api/exceptions?gateway=`)).json()) as ExceptionsView).flows).toBe(3);
    expect((await fetch(`${base}/api/exceptions?gateway=a&gateway=b`)).status).toBe(400);
    expect((await fetch(`${base}/api/exceptions?host=x`)).status).toBe(400);
  });

  test('/api/exceptions falls back to paging through query() for stores that cannot group', async () => {
    const { store } = await start({
      flows: [flow('maps.virtualearth.net', 'internet', 1), flow('dev.virtualearth.net', 'internet', 2)],
    });
    const { exceptionsView } = await import('./exceptions.js');
    const withGroups = await exceptionsView(store, policy.catalog, {});
    const withoutGroups = await exceptionsView(
      {
        ...store,
        kind: store.kind,
        query: (q) => store.query(q),
        stats: (r) => store.stats(r),
        groups: undefined,
      } as FlowStore,
      policy.catalog,
      {},
    );
    expect(withoutGroups).toEqual(withGroups);
  });

  test('wrong methods are refused', async () => {
    const { base } = await start();
    const response = await fetch(`${base}/api/catalog`, { method: 'POST' });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET, HEAD');
  });
});

/** Reads SSE events from a fetch body until `until` returns true for the events so far. */
async function readEvents(
  body: ReadableStream<Uint8Array>,
  until: (events: { event: string; data: string }[], raw: string) => boolean,
): Promise<{ events: { event: string; data: string }[]; raw: string; done: boolean }> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let raw = '';
  const events: { event: string; data: string }[] = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return { events, raw, done: true };
    raw += decoder.decode(value, { stream: true });
    events.length = 0;
    for (const block of raw.split('\n\n')) {
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (event && data) events.push({ event, data });
    }
    if (until(events, raw)) {
      reader.releaseLock();
      return { events, raw, done: false };
    }
  }
}

describe('/api/events', () => {
  test('sends health on connect and on change, ticks with new flows, heartbeats, and ends on close()', async () => {
    const harness = await start({ flows: [flow('api.powerbi.com', 'expressroute')], heartbeatMs: 100 });
    const response = await fetch(`${harness.base}/api/events`);
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(response.headers.get('cache-control')).toContain('no-cache');
    const body = response.body as ReadableStream<Uint8Array>;

    const first = await readEvents(body, (events) => events.some((e) => e.event === 'tick'));
    expect(first.raw.startsWith('retry: 3000\n\n')).toBe(true);
    const hello = JSON.parse(first.events.find((e) => e.event === 'health')?.data ?? '{}');
    expect(hello.health[0]).toMatchObject({ path: 'expressroute', state: 'up' });
    const tick = JSON.parse(first.events.find((e) => e.event === 'tick')?.data ?? '{}');
    expect(tick).toMatchObject({ flows: 1, activeTunnels: 3 });

    harness.store.append(flow('maps.virtualearth.net', 'internet'));
    harness.store.append(flow('dev.virtualearth.net', 'internet'));
    harness.health[0] = {
      ...(harness.health[0] as PathHealth),
      state: 'down',
      lastError: 'connect ETIMEDOUT',
    };
    const later = await readEvents(
      body,
      (events, raw) =>
        events.some((e) => e.event === 'tick' && JSON.parse(e.data).newFlows === 2) &&
        events.some((e) => e.event === 'health' && e.data.includes('"down"')) &&
        raw.includes(': ping'),
    );
    const newTick = JSON.parse(
      later.events.find((e) => e.event === 'tick' && JSON.parse(e.data).newFlows === 2)?.data ?? '{}',
    );
    expect(newTick.flows).toBe(3);
    expect(newTick.latest.map((f: { host: string }) => f.host).sort()).toEqual([
      'dev.virtualearth.net',
      'maps.virtualearth.net',
    ]);

    harness.handler.close();
    const end = await readEvents(body, () => false);
    expect(end.done).toBe(true);
    // Nothing holds the server open any more.
    await new Promise<void>((resolve) => harness.server.close(() => resolve()));
    open = open.filter((h) => h !== harness);
    await harness.store.close();
  });
});

describe('stored flow files', () => {
  test('are told apart by content: DuckDB, JSONL store, audit NDJSON; anything else is refused', async () => {
    const jsonl = join(dir, 'store.jsonl');
    writeFileSync(jsonl, `${JSON.stringify({ id: 1, ...flow('api.powerbi.com', 'expressroute') })}\n`);
    const ndjson = join(dir, 'audit.log');
    writeFileSync(ndjson, `${JSON.stringify(flow('api.powerbi.com', 'internet'))}\n`);
    const duck = join(dir, 'flows.bin');
    const duckStore = await openFlowStore(
      { kind: 'duckdb', path: duck, flushIntervalMs: 50 },
      { log: quietLog },
    );
    await duckStore.close();
    const other = join(dir, 'other.txt');
    writeFileSync(other, 'GET / HTTP/1.1\n');

    expect(await detectFlowFile(jsonl)).toBe('jsonl');
    expect(await detectFlowFile(ndjson)).toBe('ndjson');
    expect(await detectFlowFile(duck)).toBe('duckdb');
    await expect(detectFlowFile(other)).rejects.toMatchObject({ code: 'PW_ERR_STORE_OPEN' });
    await expect(detectFlowFile(join(dir, 'missing'))).rejects.toMatchObject({ code: 'PW_ERR_STORE_OPEN' });
  });

  test('an audit NDJSON is imported in order, with bad lines counted, and the temporary store removed on close', async () => {
    const ndjson = join(dir, 'audit.ndjson');
    writeFileSync(
      ndjson,
      [
        JSON.stringify(flow('api.powerbi.com', 'internet', 1)),
        'not json',
        JSON.stringify(flow('maps.virtualearth.net', 'internet', 2)),
        '',
        JSON.stringify({ summary: true }),
      ].join('\n'),
    );
    const source = await openStoredFlows(ndjson, { log: quietLog });
    try {
      expect(source.kind).toBe('ndjson');
      expect(source.imported).toEqual({ records: 2, badLines: [2, 5] });
      const stats = await source.store.stats();
      expect(stats.flows).toBe(2);
      expect(stats.byVerdict).toMatchObject({ leak: 1, exception: 1 });
      const page = await source.store.query({ verdict: 'leak' });
      expect(page.flows[0]).toMatchObject({ id: 1, host: 'api.powerbi.com' });
    } finally {
      await source.close();
    }
  });
});

describe('pathwarden dashboard (startStoredDashboard)', () => {
  test('serves the page and the admin API read-only over an audit NDJSON file', async () => {
    const { startStoredDashboard } = await import('./serve.js');
    const ndjson = join(dir, 'audit.ndjson');
    writeFileSync(
      ndjson,
      `${[flow('api.powerbi.com', 'internet', 1), flow('maps.virtualearth.net', 'internet', 2)].map((f) => JSON.stringify(f)).join('\n')}\n`,
    );
    const running = await startStoredDashboard({
      file: ndjson,
      listen: '127.0.0.1:0',
      catalog: policy.catalog,
      log: quietLog,
    });
    try {
      const base = running.url.replace(/\/$/, '');
      expect(await (await fetch(`${base}/api/status`)).json()).toMatchObject({ mode: 'stored', health: [] });
      const page = (await (await fetch(`${base}/api/flows?verdict=leak`)).json()) as { total: number };
      expect(page.total).toBe(1);
      const stats = (await (await fetch(`${base}/api/stats`)).json()) as { flows: number };
      expect(stats.flows).toBe(2);
    } finally {
      await running.close();
    }
  });

  test('refuses a non-loopback address without a token, and a short token', async () => {
    const { startStoredDashboard } = await import('./serve.js');
    const file = join(dir, 'x.ndjson');
    writeFileSync(file, `${JSON.stringify(flow('api.powerbi.com', 'internet'))}\n`);
    await expect(
      startStoredDashboard({ file, listen: '0.0.0.0:0', catalog: policy.catalog }),
    ).rejects.toMatchObject({ code: 'PW_ERR_USAGE' });
    await expect(
      startStoredDashboard({ file, listen: '127.0.0.1:0', token: 'short', catalog: policy.catalog }),
    ).rejects.toMatchObject({ code: 'PW_ERR_USAGE' });
  });
});
