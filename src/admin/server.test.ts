// The admin API over real HTTP on 127.0.0.1 port 0, backed by a real DuckDB store and the built-in
// catalog: every endpoint, its parameter errors, the token, the Host check, 404/405 and headers.
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadBuiltinCatalog } from '../catalog/load.js';
import { emptyFlow, type FlowRecord } from '../flow/record.js';
import type { GatewayStatus, PathHealth } from '../gateway/contracts.js';
import { Policy } from '../policy/policy.js';
import type { FlowStore } from '../store/store.js';
import { openFlowStore } from '../store/store.js';
import { GatewayMetrics } from './metrics.js';
import { type AdminServer, type AdminServerOptions, startAdminServer } from './server.js';

const t0 = Date.UTC(2025, 0, 15, 12, 0, 0);
const minute = 60_000;
const token = 'correct-horse-battery-staple';

function gatewayFlow(minutes: number, overrides: Partial<FlowRecord> = {}): FlowRecord {
  return {
    ...emptyFlow({ kind: 'gateway' }),
    start: t0 + minutes * minute,
    end: t0 + minutes * minute + 100,
    client: '10.1.2.3',
    host: 'api.powerbi.com',
    sni: 'api.powerbi.com',
    destination: '20.1.2.3',
    port: 443,
    protocol: 'tls',
    component: 'saas',
    bytesUp: 10,
    bytesDown: 90,
    actualPath: 'expressroute',
    expectedPath: 'expressroute',
    verdict: 'ok',
    ruleId: 'paas.rest-api',
    reason: 'test',
    egressPath: 'expressroute',
    outcome: 'forwarded',
    ...overrides,
  };
}

const health: PathHealth[] = [
  { path: 'expressroute', state: 'up', since: t0, lastError: null, history: [{ t: t0, state: 'up' }] },
  { path: 'internet', state: 'up', since: t0, lastError: null, history: [] },
];
const status: GatewayStatus = { health: () => structuredClone(health), activeTunnels: () => 3 };

describe('admin server', () => {
  let dir: string;
  let store: FlowStore;
  let metrics: GatewayMetrics;
  let policy: Policy;
  const servers: AdminServer[] = [];
  let base: string;
  let secured: string;
  const staticCalls: string[] = [];

  const start = async (overrides: Partial<AdminServerOptions> = {}) => {
    const server = await startAdminServer({
      listen: '127.0.0.1:0',
      store,
      metrics,
      policy,
      status,
      ...overrides,
    });
    servers.push(server);
    return `http://${server.address}`;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pathwarden-admin-'));
    store = await openFlowStore({ kind: 'duckdb', path: join(dir, 'flows.duckdb'), flushIntervalMs: 50 });
    metrics = new GatewayMetrics({ processMetrics: false });
    policy = Policy.compile(loadBuiltinCatalog().catalog);
    const flows = [
      gatewayFlow(0),
      gatewayFlow(1, {
        host: 'content.powerapps.com',
        sni: 'content.powerapps.com',
        verdict: 'exception',
        expectedPath: 'internet',
        egressPath: 'internet',
        actualPath: 'internet',
      }),
      gatewayFlow(2, { outcome: 'blocked', error: 'PW_GW_CIRCUIT_DOWN', bytesUp: 0, bytesDown: 0 }),
      gatewayFlow(3, { component: 'desktop' }),
    ];
    for (const flow of flows) {
      store.append(flow);
      metrics.flowFinished(flow);
    }
    base = await start({
      static: (req, res) => {
        staticCalls.push(req.url ?? '');
        if (req.url !== '/dashboard/') return false;
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end('<!doctype html><title>dashboard</title>');
        return true;
      },
    });
    secured = await start({ token });
  });

  afterAll(async () => {
    for (const server of servers.splice(0)) await server.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const getJson = async (url: string, init?: RequestInit) => {
    const response = await fetch(url, init);
    return {
      status: response.status,
      headers: response.headers,
      body: (await response.json()) as Record<string, unknown>,
    };
  };

  test('GET /api/flows pages the store newest first, each record with its host name', async () => {
    const { status: code, headers, body } = await getJson(`${base}/api/flows?limit=2`);
    expect(code).toBe(200);
    expect(headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(body).toMatchObject({ total: 4, offset: 0, limit: 2 });
    const flows = body.flows as { id: number; host: string; component: string }[];
    expect(flows.map((flow) => [flow.id, flow.host, flow.component])).toEqual([
      [4, 'api.powerbi.com', 'desktop'],
      [3, 'api.powerbi.com', 'saas'],
    ]);
    const page2 = await getJson(`${base}/api/flows?limit=2&offset=2`);
    expect((page2.body.flows as { id: number }[]).map((flow) => flow.id)).toEqual([2, 1]);
    expect(page2.body.next).toBeNull();
  });

  test('GET /api/flows pages by cursor: `next` leads to the following page; a bad cursor is a 400', async () => {
    const first = await getJson(`${base}/api/flows?limit=3`);
    expect(first.body.next).toEqual(expect.any(String));
    const second = await getJson(`${base}/api/flows?limit=3&cursor=${first.body.next as string}`);
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ total: 4, offset: 0, limit: 3, next: null });
    expect((second.body.flows as { id: number }[]).map((flow) => flow.id)).toEqual([1]);
    for (const search of ['cursor=%21%21', `cursor=${first.body.next as string}&offset=3`]) {
      const bad = await getJson(`${base}/api/flows?${search}`);
      expect(bad.status, search).toBe(400);
      expect(bad.body.error).toMatchObject({ code: 'PW_ERR_QUERY_INVALID', parameter: 'cursor' });
    }
  });

  test('GET /api/flows maps every filter parameter onto the store query', async () => {
    const ids = async (search: string) =>
      ((await getJson(`${base}/api/flows?${search}`)).body.flows as { id: number }[]).map((flow) => flow.id);
    expect(await ids('host=POWERAPPS')).toEqual([2]);
    expect(await ids('component=desktop')).toEqual([4]);
    expect(await ids('verdict=exception')).toEqual([2]);
    expect(await ids('verdict=blocked')).toEqual([3]);
    expect(await ids('path=internet')).toEqual([2]);
    expect(await ids('egress=expressroute')).toEqual([4, 3, 1]);
    expect(await ids('outcome=forwarded&egress=expressroute')).toEqual([4, 1]);
    expect(await ids(`from=${t0 + minute}&to=2025-01-15T12:03:00Z`)).toEqual([3, 2]);
    expect(await ids('from=2025-01-15T13:02:00%2B01:00')).toEqual([4, 3]);
    expect(await ids('from=now-1h')).toEqual([]);
    // An empty value is no filter (an HTML form sends host= for an empty box).
    expect(await ids('host=&component=')).toEqual([4, 3, 2, 1]);
  });

  test.each([
    ['/api/flows?limit=5000', 'limit'],
    ['/api/flows?limit=ten', 'limit'],
    ['/api/flows?offset=-1', 'offset'],
    ['/api/flows?verdict=fine', 'verdict'],
    ['/api/flows?component=phone', 'component'],
    ['/api/flows?path=sideways', 'path'],
    ['/api/flows?egress=either', 'egress'],
    ['/api/flows?outcome=lost', 'outcome'],
    ['/api/flows?from=yesterday', 'from'],
    ['/api/flows?from=2025-01-15T12:00', 'from'],
    [`/api/flows?from=${t0}&to=${t0}`, 'to'],
    ['/api/flows?host=a&host=b', 'host'],
    ['/api/flows?hots=api', 'hots'],
    ['/api/stats?bucket=10', 'bucket'],
    ['/api/stats?bucket=5x', 'bucket'],
    [`/api/stats?from=0&to=${t0}&bucket=1s`, 'bucket'],
    ['/api/stats?limit=1', 'limit'],
    ['/api/explain', 'target'],
    ['/healthz?require=moon', 'require'],
  ])('GET %s answers 400 naming the parameter %s', async (path, parameter) => {
    const { status: code, body } = await getJson(`${base}${path}`);
    expect(code).toBe(400);
    expect(body.error).toMatchObject({ code: 'PW_ERR_QUERY_INVALID', parameter });
    expect((body.error as { message: string }).message).toContain(parameter);
  });

  test('GET /api/stats returns the store statistics with live health and active tunnels', async () => {
    const { status: code, body } = await getJson(
      `${base}/api/stats?from=2025-01-15&to=${t0 + 10 * minute}&bucket=5m`,
    );
    expect(code).toBe(200);
    expect(body).toMatchObject({
      flows: 4,
      bytesUp: 30,
      bytesDown: 270,
      byVerdict: { ok: 3, exception: 1 },
      byOutcome: { forwarded: 3, blocked: 1 },
      byEgressPath: {
        expressroute: { flows: 3, bytesUp: 20, bytesDown: 180 },
        internet: { flows: 1, bytesUp: 10, bytesDown: 90 },
      },
      series: {
        bucketMs: 300_000,
        points: [
          { t: t0, path: 'expressroute', flows: 3, bytes: 200 },
          { t: t0, path: 'internet', flows: 1, bytes: 100 },
        ],
      },
      health,
      activeTunnels: 3,
    });
  });

  test('GET /api/explain answers a Decision as JSON, and 400 for bad targets and components', async () => {
    const ok = await getJson(
      `${base}/api/explain?target=${encodeURIComponent('https://api.powerbi.com/v1.0/myorg')}`,
    );
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({
      host: 'api.powerbi.com',
      component: 'saas',
      path: 'expressroute',
      verdict: 'unverified',
    });
    expect((ok.body.rule as { id: string }).id).toBeTruthy();
    const desktop = await getJson(`${base}/api/explain?target=api.powerbi.com&component=desktop`);
    expect(desktop.body).toMatchObject({ component: 'desktop' });
    const bad = await getJson(`${base}/api/explain?target=${encodeURIComponent('http://exa mple/')}`);
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'PW_ERR_TARGET_INVALID', parameter: 'target' });
    const component = await getJson(`${base}/api/explain?target=api.powerbi.com&component=phone`);
    expect(component.status).toBe(400);
    expect(component.body.error).toMatchObject({ code: 'PW_ERR_COMPONENT_INVALID', parameter: 'component' });
  });

  test('GET /healthz is 200 while serving, degraded when a path is down, 503 when a required path is down', async () => {
    expect(await getJson(`${base}/healthz`)).toMatchObject({
      status: 200,
      body: { status: 'ok', paths: health },
    });
    const circuit = health[0] as PathHealth;
    circuit.state = 'down';
    circuit.lastError = 'connect ECONNREFUSED 10.9.0.1:443';
    try {
      expect(await getJson(`${base}/healthz`)).toMatchObject({ status: 200, body: { status: 'degraded' } });
      expect(await getJson(`${base}/healthz?require=internet`)).toMatchObject({ status: 200 });
      expect(await getJson(`${base}/healthz?require=expressroute`)).toMatchObject({
        status: 503,
        body: {
          status: 'unavailable',
          paths: [{ path: 'expressroute', state: 'down' }, { path: 'internet' }],
        },
      });
    } finally {
      circuit.state = 'up';
      circuit.lastError = null;
    }
  });

  test('GET /metrics serves the Prometheus text format', async () => {
    const response = await fetch(`${base}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    expect(text).toContain(
      'pathwarden_connections_total{path="expressroute",verdict="ok",outcome="forwarded"} 2',
    );
    expect(text).toContain('pathwarden_bytes_total{path="internet",direction="down"} 90');
  });

  test('every response carries the security headers', async () => {
    for (const path of ['/api/flows', '/metrics', '/healthz', '/nope', '/api/flows?limit=x']) {
      const response = await fetch(`${base}${path}`);
      await response.arrayBuffer();
      expect(response.headers.get('x-content-type-options'), path).toBe('nosniff');
      expect(response.headers.get('cache-control'), path).toBe('no-store');
      expect(response.headers.get('content-security-policy'), path).toContain("default-src 'none'");
      expect(response.headers.get('x-frame-options'), path).toBe('DENY');
    }
  });

  test('unknown paths are 404 JSON, other methods 405, HEAD answers headers only', async () => {
    const missing = await getJson(`${base}/api/nothing`);
    expect(missing).toMatchObject({
      status: 404,
      body: { error: { code: 'PW_ERR_NOT_FOUND', parameter: null } },
    });
    for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
      const response = await fetch(`${base}/api/flows`, { method });
      expect(response.status, method).toBe(405);
      expect(response.headers.get('allow')).toBe('GET, HEAD');
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('PW_ERR_METHOD');
    }
    const head = await fetch(`${base}/api/flows`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBeGreaterThan(0);
    expect(await head.text()).toBe('');
  });

  test('the static hook serves other paths on the same server, and never the API paths', async () => {
    staticCalls.length = 0;
    const page = await fetch(`${base}/dashboard/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>dashboard</title>');
    await (await fetch(`${base}/api/flows`)).arrayBuffer();
    expect(staticCalls).toEqual(['/dashboard/']);
  });

  test('with a token every request needs it: 401 without or with a wrong one, 200 with it', async () => {
    for (const path of [
      '/api/flows',
      '/metrics',
      '/healthz',
      '/api/stats',
      '/api/explain?target=x.com',
      '/nope',
    ]) {
      const none = await fetch(`${secured}${path}`);
      expect(none.status, path).toBe(401);
      expect(none.headers.get('www-authenticate')).toBe('Bearer realm="pathwarden"');
      expect(((await none.json()) as { error: { code: string } }).error.code).toBe('PW_ERR_UNAUTHORIZED');
      const wrong = await fetch(`${secured}${path}`, { headers: { authorization: `Bearer ${token}x` } });
      expect(wrong.status, path).toBe(401);
      await wrong.arrayBuffer();
      const basic = await fetch(`${secured}${path}`, { headers: { authorization: `Basic ${token}` } });
      expect(basic.status, path).toBe(401);
      await basic.arrayBuffer();
      const right = await fetch(`${secured}${path}`, { headers: { authorization: `Bearer ${token}` } });
      expect(right.status, path).toBe(path === '/nope' ? 404 : 200);
      await right.arrayBuffer();
    }
  });

  test('without a token, Host names other than loopback are refused (DNS rebinding)', async () => {
    const port = Number(new URL(base).port);
    const statusWithHost = (host: string) =>
      new Promise<number>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port, path: '/api/flows', headers: { host } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end();
      });
    expect(await statusWithHost('attacker.example')).toBe(403);
    expect(await statusWithHost(`attacker.example:${port}`)).toBe(403);
    expect(await statusWithHost(`localhost:${port}`)).toBe(200);
    expect(await statusWithHost(`127.0.0.1:${port}`)).toBe(200);
    expect(await statusWithHost(`[::1]:${port}`)).toBe(200);
    // Parsed, not prefix-matched (issue 10, item 2): names that start like loopback are names.
    expect(await statusWithHost(`127.0.0.1.attacker.example:${port}`)).toBe(403);
    expect(await statusWithHost(`127.evil.example:${port}`)).toBe(403);
    expect(await statusWithHost(`localhost.attacker.example:${port}`)).toBe(403);
    expect(await statusWithHost(`[::1].attacker.example:${port}`)).toBe(403);
    expect(await statusWithHost(`127.0.0.2:${port}`)).toBe(200);
    expect(await statusWithHost(`LOCALHOST:${port}`)).toBe(200);
    expect(await statusWithHost('127.0.0.1')).toBe(200);
  });

  test('refuses to start on a non-loopback address without a token, or with a short token', async () => {
    for (const listen of ['0.0.0.0:0', '10.0.0.1:9180', '[::]:0', '127.evil.example:0']) {
      await expect(startAdminServer({ listen, store, metrics, policy, status })).rejects.toMatchObject({
        code: 'PW_ERR_CONFIG_INVALID',
        message: expect.stringContaining('not a loopback address'),
      });
    }
    await expect(
      startAdminServer({ listen: '127.0.0.1:0', token: 'short', store, metrics, policy, status }),
    ).rejects.toMatchObject({
      code: 'PW_ERR_CONFIG_INVALID',
    });
    await expect(
      startAdminServer({ listen: 'nonsense', store, metrics, policy, status }),
    ).rejects.toMatchObject({
      code: 'PW_ERR_CONFIG_INVALID',
    });
  });

  test('a store failure is a 500 with a code, reported to onError, and the server keeps serving', async () => {
    const errors: unknown[] = [];
    const failing = {
      ...store,
      kind: 'broken',
      query: async () => {
        throw Object.assign(new Error('disk gone'), { code: 'EIO' });
      },
    } as unknown as FlowStore;
    const url = await start({ store: failing, onError: (error) => errors.push(error) });
    const { status: code, body } = await getJson(`${url}/api/flows`);
    expect(code).toBe(500);
    expect(body.error).toMatchObject({ code: 'PW_ERR_INTERNAL' });
    expect(errors).toHaveLength(1);
    expect((await getJson(`${url}/healthz`)).status).toBe(200);
  });
});
