import { describe, expect, test } from 'vitest';
import { loadBuiltinCatalog } from '../catalog/load.js';
import { Policy } from '../policy/policy.js';
import { PathResolver, topologySchema } from '../policy/topology.js';
import { ClassifyCache, classifyFlow } from './classify.js';
import { emptyFlow } from './record.js';

const policy = Policy.compile(loadBuiltinCatalog().catalog);
const resolver = new PathResolver(
  topologySchema.parse({
    expressroute: {
      prefixes: ['13.73.248.0/24'],
      proxies: ['10.9.0.1:3128'],
      sourceAddresses: ['10.20.0.5'],
    },
    internet: { proxies: ['10.9.0.2:3128'], sourceAddresses: ['10.20.0.6'] },
    default: 'internet',
  }),
);

const flow = (fields: Partial<ReturnType<typeof emptyFlow>>) => ({
  ...emptyFlow({ kind: 'csv', file: 't.csv', line: 1 }),
  ...fields,
});

describe('classifyFlow', () => {
  test('a circuit-bound host through the Internet proxy is a leak, with the evidence', () => {
    const record = flow({ host: 'API.PowerBI.com', upstream: '10.9.0.2' });
    classifyFlow(record, policy, resolver);
    expect(record).toMatchObject({
      actualPath: 'internet',
      actualPathEvidence: 'proxy 10.9.0.2',
      verdict: 'leak',
      ruleId: 'service.backend-api',
    });
  });

  test('a host that is an IPv4 address meets the prefixes (CONNECT 13.73.248.4:443)', () => {
    const record = flow({ host: '13.73.248.4', port: 443, upstream: '10.9.0.2:3128' });
    classifyFlow(record, policy, resolver);
    expect(record).toMatchObject({ verdict: 'leak', ruleId: 'service.powerbi-servicetag' });
  });

  test('source address and destination prefix evidence', () => {
    const bySource = flow({ host: 'api.powerbi.com', sourceAddress: '10.20.0.5' });
    classifyFlow(bySource, policy, resolver);
    expect(bySource).toMatchObject({
      actualPath: 'expressroute',
      verdict: 'ok',
      actualPathEvidence: 'source 10.20.0.5',
    });
    const byPrefix = flow({ destination: '13.73.248.5' });
    classifyFlow(byPrefix, policy, resolver);
    expect(byPrefix).toMatchObject({
      actualPath: 'expressroute',
      actualPathEvidence: 'prefix 13.73.248.0/24',
      verdict: 'ok',
    });
  });

  test('an address-only flow gets its name from DNS answers of the same audit', () => {
    const record = flow({ destination: '52.1.2.3' });
    classifyFlow(record, policy, resolver, {
      nameOf: (address) => (address === '52.1.2.3' ? 'x.analysis.windows.net' : undefined),
    });
    expect(record).toMatchObject({ host: 'x.analysis.windows.net', actualPath: 'internet', verdict: 'leak' });
  });

  test('a DNS lookup never gets a path from its resolver, so it cannot be a leak', () => {
    const record = flow({ protocol: 'dns', host: 'api.powerbi.com', destination: '8.8.8.8', port: 53 });
    classifyFlow(record, policy, resolver);
    expect(record).toMatchObject({
      actualPath: 'unknown',
      actualPathEvidence: 'dns lookup',
      verdict: 'unverified',
    });
  });

  test('component from the record, else the option, else saas', () => {
    const mobile = flow({ host: 'app.powerbi.com', component: 'mobile' });
    classifyFlow(mobile, policy, resolver);
    expect(mobile.verdict).toBe('not-covered');
    const desktop = flow({ host: 'dev.virtualearth.net' });
    classifyFlow(desktop, policy, resolver, { component: 'desktop' });
    expect(desktop.ruleId).toBe('desktop.maps');
  });

  test('no usable name or address: unknown', () => {
    const record = flow({});
    classifyFlow(record, policy, resolver);
    expect(record).toMatchObject({ verdict: 'unknown', ruleId: null, actualPath: 'unknown' });
  });

  test('with a cache (and a tiny limit that forces refills) the results are exactly those without', () => {
    const hosts = [
      'api.powerbi.com',
      'APP.powerbi.com.',
      '13.73.248.4',
      'evilpowerbi.com',
      'bad host!',
      'x.analysis.windows.net',
    ];
    const upstreams = [null, '10.9.0.1', '10.9.0.2:3128', '192.0.2.9'];
    const destinations = [null, '13.73.248.5', '52.1.2.3', '2001:db8::1'];
    const sources = [null, '10.20.0.5', '10.20.0.6'];
    const cache = new ClassifyCache(3);
    // What the compared results covered: a comparison of 600 identical answers would prove little.
    const verdictsSeen = new Set<string>();
    const actualPathsSeen = new Set<string>();
    for (let i = 0; i < 600; i++) {
      const fields = {
        host: hosts[i % hosts.length] ?? null,
        upstream: upstreams[(i >> 1) % upstreams.length] ?? null,
        destination: destinations[(i >> 2) % destinations.length] ?? null,
        sourceAddress: sources[(i >> 3) % sources.length] ?? null,
        port: i % 5 === 0 ? 80 : 443,
        component: i % 7 === 0 ? ('desktop' as const) : null,
      };
      const plain = flow(fields);
      const cached = flow(fields);
      classifyFlow(plain, policy, resolver);
      classifyFlow(cached, policy, resolver, { cache });
      expect(cached, JSON.stringify(fields)).toEqual(plain);
      verdictsSeen.add(String(plain.verdict));
      actualPathsSeen.add(plain.actualPath);
    }
    expect([...verdictsSeen].sort()).toEqual(['exception', 'leak', 'ok', 'unknown', 'unverified']);
    expect([...actualPathsSeen].sort()).toEqual(['expressroute', 'internet', 'unknown']);
  });

  test('a cache whose destination table is given up (most addresses new) still gives the same results', () => {
    // 3,000 direct flows, each to a new address (some in the circuit's prefix), then the first
    // addresses again: past the first 1,024 lookups the cache stops remembering destinations.
    const cache = new ClassifyCache();
    const fieldsOf = (i: number) => ({
      host: i % 3 === 0 ? null : `img${i % 50}.cdn.example.net`,
      destination: i % 4 === 0 ? `13.73.248.${i % 256}` : `52.${(i >> 8) & 255}.${i & 255}.7`,
      port: 443,
    });
    const paths = new Set<string>();
    for (const i of [
      ...Array.from({ length: 3000 }, (_, i) => i),
      ...Array.from({ length: 300 }, (_, i) => i),
    ]) {
      const plain = flow(fieldsOf(i));
      const cached = flow(fieldsOf(i));
      classifyFlow(plain, policy, resolver);
      classifyFlow(cached, policy, resolver, { cache });
      expect(cached, JSON.stringify(fieldsOf(i))).toEqual(plain);
      paths.add(plain.actualPath);
    }
    expect([...paths].sort()).toEqual(['expressroute', 'internet']);
  });
});
