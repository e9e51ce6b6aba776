// Every catalog activity with fixed hosts, for every component, leaves on its documented path:
// the origin sees the circuit source address (127.0.0.2) for `expressroute`, the Internet one
// (127.0.0.3) for `internet`, and `either` per decisions.either. Real TLS through CONNECT, plain
// HTTP through curl, and undici's ProxyAgent.
import { ProxyAgent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadBuiltinCatalog } from '../catalog/load.js';
import type { Component } from '../catalog/model.js';
import { Policy } from '../policy/policy.js';
import { curl, tlsThroughProxy } from './testing/clients.js';
import {
  CIRCUIT_SOURCE,
  INTERNET_SOURCE,
  startTestGateway,
  type TestGateway,
} from './testing/gateway-fixture.js';
import { type Origin, startHttpOrigin, startTlsOrigin } from './testing/origins.js';

const catalog = loadBuiltinCatalog().catalog;
const policy = Policy.compile(catalog);

/** Source address each component's client uses; `components` maps them in the gateway config. */
const clientOf: Record<Component, string> = {
  saas: '127.0.0.1',
  desktop: '127.0.0.11',
  paas: '127.0.0.12',
  gateway: '127.0.0.13',
  mobile: '127.0.0.14',
};
const componentsConfig = (['desktop', 'paas', 'gateway', 'mobile'] as const).map((component) => ({
  clients: [`${clientOf[component]}/32`],
  component,
}));

/** One concrete host per pattern: the name itself, or a label in front of a wildcard suffix. */
const hostFor = (pattern: string) => (pattern.startsWith('*.') ? `pw-probe.${pattern.slice(2)}` : pattern);

/** Every catalog host pattern resolved to the loopback origin. */
const resolveAll = Object.fromEntries(
  catalog.rules.flatMap((rule) => rule.hosts.map((host) => [host, '127.0.0.1'])),
);

interface Case {
  component: Component;
  ruleId: string;
  rulePath: string;
  host: string;
}

const cases: Case[] = catalog.rules.flatMap((rule) =>
  rule.components
    .filter((component) => component !== 'mobile')
    .flatMap((component) =>
      rule.hosts.map((pattern) => ({
        component,
        ruleId: rule.id,
        rulePath: rule.path,
        host: hostFor(pattern),
      })),
    ),
);

const sourceOf = { expressroute: CIRCUIT_SOURCE, internet: INTERNET_SOURCE } as const;

describe('every catalog activity leaves on its documented path', () => {
  let tls: Origin;
  let gateway: TestGateway;
  let eitherInternet: TestGateway;

  beforeAll(async () => {
    tls = await startTlsOrigin();
    const common = { ports: [tls.port], resolve: resolveAll, components: componentsConfig };
    gateway = await startTestGateway(common);
    eitherInternet = await startTestGateway({ ...common, decisions: { either: 'internet' } });
  });

  afterAll(async () => {
    await gateway.close();
    await eitherInternet.close();
    await tls.close();
  });

  test('the catalog has cases for every covered component', () => {
    const covered = new Set(cases.map((entry) => entry.component));
    expect([...covered].sort()).toEqual(['desktop', 'gateway', 'paas', 'saas']);
    expect(cases.length).toBeGreaterThan(40);
  });

  for (const [label, which, either] of [
    ['either = expressroute', () => gateway, 'expressroute'],
    ['either = internet', () => eitherInternet, 'internet'],
  ] as const) {
    test(`${label}: TLS through CONNECT from each component's client`, async () => {
      const running = which();
      let checked = 0;
      for (const entry of cases) {
        const decision = policy.decideHost(entry.host, { component: entry.component, port: tls.port });
        // Where a more specific rule of the same catalog wins for this name, that rule is the case.
        if (decision.rule?.id !== entry.ruleId) continue;
        const path = entry.rulePath === 'either' ? either : (entry.rulePath as 'expressroute' | 'internet');
        const seenBefore = tls.seen.length;
        const flowsBefore = running.store.flows.length;
        const result = await tlsThroughProxy({
          proxyPort: running.port,
          connectHost: entry.host,
          port: tls.port,
          localAddress: clientOf[entry.component],
        });
        const label = `${entry.component} ${entry.host} (${entry.ruleId}, ${entry.rulePath})`;
        expect(result.connect.status, label).toBe(200);
        expect(result.status, label).toBe(200);
        expect(tls.seen.length, label).toBe(seenBefore + 1);
        expect(tls.seen.at(-1), label).toEqual({ remoteAddress: sourceOf[path], name: entry.host });
        const flow = (await running.store.waitFor(flowsBefore + 1))[flowsBefore];
        expect(flow, label).toMatchObject({
          host: entry.host,
          sni: entry.host,
          component: entry.component,
          ruleId: entry.ruleId,
          expectedPath: entry.rulePath,
          egressPath: path,
          actualPath: path,
          actualPathEvidence: `source ${sourceOf[path]}`,
          sourceAddress: sourceOf[path],
          outcome: 'forwarded',
          error: null,
          protocol: 'tls',
          verdict: path === 'expressroute' ? 'ok' : 'exception',
        });
        checked++;
      }
      expect(checked).toBeGreaterThan(40);
    });
  }

  test('mobile is not covered: refused by default with PW_GW_NOT_COVERED_DENIED, nothing reaches the origin', async () => {
    const seenBefore = tls.seen.length;
    const result = await tlsThroughProxy({
      proxyPort: gateway.port,
      connectHost: 'api.powerbi.com',
      port: tls.port,
      localAddress: clientOf.mobile,
    });
    expect(result.connect.status).toBe(403);
    expect(result.connect.headers['x-pathwarden-error']).toBe('PW_GW_NOT_COVERED_DENIED');
    expect(tls.seen.length).toBe(seenBefore);
    expect(gateway.store.flows.at(-1)).toMatchObject({
      component: 'mobile',
      outcome: 'denied',
      verdict: 'not-covered',
    });
  });
});

describe('real clients', () => {
  let http: Origin;
  let tls: Origin;
  let gateway: TestGateway;

  beforeAll(async () => {
    http = await startHttpOrigin();
    tls = await startTlsOrigin();
    gateway = await startTestGateway({ ports: [http.port, tls.port] });
  });

  afterAll(async () => {
    await gateway.close();
    await http.close();
    await tls.close();
  });

  test('curl: plain HTTP (absolute-form) and HTTPS (CONNECT), each on its path', async () => {
    const proxy = `http://127.0.0.1:${gateway.port}`;
    const plain = await curl(['-x', proxy, `http://api.powerbi.com:${http.port}/v1.0/myorg/groups?x=1`]);
    expect(plain.code, plain.stderr).toBe(0);
    const echoed = JSON.parse(plain.stdout) as {
      url: string;
      host: string;
      remote: string;
      headers: Record<string, string>;
    };
    expect(echoed).toMatchObject({
      url: '/v1.0/myorg/groups?x=1',
      host: `api.powerbi.com:${http.port}`,
      remote: CIRCUIT_SOURCE,
    });
    expect(echoed.headers['proxy-connection']).toBeUndefined();

    const internet = await curl(['-x', proxy, `http://www.powerbi.com:${http.port}/`]);
    expect(JSON.parse(internet.stdout).remote).toBe(CIRCUIT_SOURCE); // *.powerbi.com: either -> circuit

    const tunnelled = await curl([
      '-x',
      proxy,
      '--proxytunnel',
      '-k',
      `https://ideas.powerbi.com:${tls.port}/`,
    ]);
    expect(tunnelled.code, tunnelled.stderr).toBe(0);
    expect(tunnelled.stdout).toBe(`hello ideas.powerbi.com from ${INTERNET_SOURCE}`);

    const posted = await curl([
      '-x',
      proxy,
      '--data-binary',
      'x'.repeat(100_000),
      `http://api.powerbi.com:${http.port}/post`,
    ]);
    expect(JSON.parse(posted.stdout)).toMatchObject({
      method: 'POST',
      bodyBytes: 100_000,
      remote: CIRCUIT_SOURCE,
    });
    const flow = gateway.flowsFor('api.powerbi.com').at(-1);
    expect(flow?.bytesUp).toBeGreaterThan(100_000);
    expect(flow?.bytesDown).toBeGreaterThan(0);
  });

  test('undici ProxyAgent: HTTPS through CONNECT and plain HTTP in absolute form', async () => {
    const tunnelAgent = new ProxyAgent({
      uri: `http://127.0.0.1:${gateway.port}`,
      requestTls: { rejectUnauthorized: false },
    });
    const plainAgent = new ProxyAgent({ uri: `http://127.0.0.1:${gateway.port}`, proxyTunnel: false });
    try {
      const secure = await request(`https://login.microsoftonline.com:${tls.port}/common/oauth2/token`, {
        dispatcher: tunnelAgent,
      });
      expect(secure.statusCode).toBe(200);
      expect(await secure.body.text()).toBe(`hello login.microsoftonline.com from ${CIRCUIT_SOURCE}`);
      for (let i = 0; i < 3; i++) {
        const plain = await request(`http://x.analysis.windows.net:${http.port}/n/${i}`, {
          dispatcher: plainAgent,
          method: 'PUT',
          body: `body-${i}`,
        });
        expect(plain.statusCode).toBe(200);
        expect(await plain.body.json()).toMatchObject({
          url: `/n/${i}`,
          bodyBytes: 6,
          remote: CIRCUIT_SOURCE,
        });
      }
    } finally {
      await tunnelAgent.close();
      await plainAgent.close();
    }
    // One record per request, whichever of undici's kept-alive connections carried it.
    const flows = gateway.flowsFor('x.analysis.windows.net');
    expect(flows.map((flow) => [flow.egressPath, flow.outcome, flow.bytesUp])).toEqual(
      [0, 1, 2].map(() => ['expressroute', 'forwarded', expect.any(Number)]),
    );
  });
});
