import { describe, expect, test } from 'vitest';
import { classifyFlow } from '../flow/classify.js';
import { emptyFlow, type FlowRecord } from '../flow/record.js';
import { PathResolver, topologySchema } from '../policy/topology.js';
import { AuditAggregate, isArrayIndex } from './aggregate.js';
import { aggregateReport, at, builtinPolicy } from './test-support.js';
import { TimeSeries } from './time-series.js';

const resolver = new PathResolver(
  topologySchema.parse({
    expressroute: { proxies: ['10.9.0.1:3128'] },
    internet: { proxies: ['10.9.0.2:3128'] },
    default: 'internet',
  }),
);

function flow(fields: Partial<FlowRecord>): FlowRecord {
  return { ...emptyFlow({ kind: 'squid', file: 'access.log', line: 1 }), ...fields };
}

function aggregateOf(flows: FlowRecord[], limits = {}): AuditAggregate {
  const aggregate = new AuditAggregate('saas', limits);
  for (const record of flows) aggregate.add(record, classifyFlow(record, builtinPolicy(), resolver));
  return aggregate;
}

const report = aggregateReport;

describe('AuditAggregate', () => {
  const flows = [
    flow({
      host: 'api.powerbi.com',
      upstream: '10.9.0.1',
      bytesUp: 100,
      bytesDown: 1000,
      start: at(0),
      end: at(1),
    }),
    flow({
      host: 'api.powerbi.com',
      upstream: '10.9.0.2',
      bytesUp: 10,
      bytesDown: 20,
      start: at(5),
      end: at(6),
    }),
    flow({
      host: 'API.PowerBI.com',
      upstream: '10.9.0.2',
      bytesUp: 1,
      bytesDown: 2,
      start: at(7),
      end: at(30),
    }),
    flow({
      host: 'content.powerapps.com',
      upstream: '10.9.0.2',
      bytesUp: 5,
      bytesDown: 500,
      start: at(2),
      end: at(3),
    }),
    flow({
      host: 'unknown.example',
      upstream: '10.9.0.2',
      bytesUp: null,
      bytesDown: 7,
      start: null,
      end: null,
    }),
    flow({
      host: 'app.powerbi.com',
      component: 'mobile',
      upstream: '10.9.0.2',
      bytesUp: 3,
      bytesDown: 3,
      start: at(60),
    }),
  ];

  test('counts flows and bytes per verdict, path, component, rule and activity', () => {
    const result = report(aggregateOf(flows));
    expect(result.flows).toBe(6);
    expect(result.verdicts).toEqual({
      ok: 1,
      leak: 2,
      exception: 1,
      unknown: 1,
      unverified: 0,
      'not-covered': 1,
    });
    expect(result.bytes).toMatchObject({ up: 119, down: 1532, total: 1651 });
    expect(result.bytes.byVerdict.leak).toEqual({ up: 11, down: 22 });
    expect(result.bytes.byPath).toEqual({
      expressroute: { up: 100, down: 1000 },
      internet: { up: 19, down: 532 },
      unknown: { up: 0, down: 0 },
    });
    expect(result.paths.internet).toMatchObject({
      flows: 5,
      firstSeen: '2026-11-23T08:02:00Z',
      lastSeen: '2026-11-23T09:00:00Z',
      verdicts: { leak: 2, exception: 1, unknown: 1, 'not-covered': 1, ok: 0, unverified: 0 },
    });
    expect(Object.keys(result.components)).toEqual(['mobile', 'saas']);
    expect(result.components.saas?.flows).toBe(5);
    const backend = result.rules.find((rule) => rule.rule === 'service.backend-api');
    expect(backend).toMatchObject({
      flows: 3,
      expectedPath: 'expressroute',
      bytesUp: 111,
      firstSeen: '2026-11-23T08:00:00Z',
      lastSeen: '2026-11-23T08:30:00Z',
      verdicts: { ok: 1, leak: 2 },
    });
    expect(result.rules.find((rule) => rule.rule === null)).toMatchObject({
      flows: 1,
      expectedPath: 'unknown',
    });
    const activity = result.activities.find((row) => row.rules.includes('service.backend-api'));
    expect(activity?.flows).toBe(3);
    expect(result.timeRange).toEqual({ first: '2026-11-23T08:00:00Z', last: '2026-11-23T09:00:00Z' });
  });

  test('destinations are keyed by the canonical name classified; findings rank by bytes of their verdict', () => {
    const result = report(aggregateOf(flows));
    const api = result.destinations.top.find((row) => row.destination === 'api.powerbi.com');
    expect(api).toMatchObject({ flows: 3, verdicts: { ok: 1, leak: 2 } });
    expect(result.findings.exceptions).toEqual([
      {
        destination: 'content.powerapps.com',
        rule: 'overall.cdn-2024',
        activity: expect.any(String),
        flows: 1,
        bytesUp: 5,
        bytesDown: 500,
        firstSeen: '2026-11-23T08:02:00Z',
        lastSeen: '2026-11-23T08:03:00Z',
      },
    ]);
    expect(result.findings.unknown.map((row) => [row.destination, row.flows, row.firstSeen])).toEqual([
      ['unknown.example', 1, null],
    ]);
    expect(
      result.findings.leaks.items.map((leak) => [leak.evidence, leak.host, leak.actualPathEvidence]),
    ).toEqual([
      ['access.log:1', 'api.powerbi.com', 'proxy 10.9.0.2'],
      ['access.log:1', 'api.powerbi.com', 'proxy 10.9.0.2'],
    ]);
  });

  test('top-N destinations with an "other" bucket; the table stops growing at its limit', () => {
    const many = Array.from({ length: 30 }, (_, i) =>
      flow({ host: `h${String(i).padStart(2, '0')}.example`, bytesDown: 100 - i, upstream: '10.9.0.2' }),
    );
    const capped = aggregateOf(many, { destinations: 25 });
    const result = report(capped, 10);
    expect(result.destinations.top.map((row) => row.destination)).toEqual(
      Array.from({ length: 10 }, (_, i) => `h${String(i).padStart(2, '0')}.example`),
    );
    expect(result.destinations.distinct).toBe(25);
    expect(result.destinations.complete).toBe(false);
    // 15 tracked but ranked lower + 5 untracked flows.
    expect(result.destinations.other).toMatchObject({ destinations: 15, flows: 20 });
    expect(
      result.destinations.top.reduce((sum, row) => sum + row.flows, 0) + result.destinations.other.flows,
    ).toBe(30);
  });

  test('the top destinations and findings are those of a full sort, ties broken by name, for any top', () => {
    // 150 names outside the catalog (verdict unknown), with bytes and flow counts that tie often,
    // added in an order unrelated to their rank.
    const flows: FlowRecord[] = [];
    for (let i = 0; i < 150; i++) {
      const host = `n${(i * 37) % 150}.example`;
      for (let k = 0; k <= i % 3; k++)
        flows.push(flow({ host, bytesDown: ((i * 7) % 5) * 100, bytesUp: k, upstream: '10.9.0.2' }));
    }
    const aggregate = aggregateOf(flows);
    const all = report(aggregate, 1000).destinations.top;
    expect(all).toHaveLength(150);
    const bytes = (row: { bytesUp: number; bytesDown: number }) => row.bytesUp + row.bytesDown;
    const expected = [...all].sort(
      (a, b) =>
        bytes(b) - bytes(a) ||
        b.flows - a.flows ||
        (a.destination < b.destination ? -1 : a.destination > b.destination ? 1 : 0),
    );
    expect(all.map((row) => row.destination)).toEqual(expected.map((row) => row.destination));
    const total = flows.length;
    for (const top of [0, 1, 2, 7, 20, 149, 150, 151]) {
      const result = report(aggregate, top);
      const listed = expected.slice(0, top);
      expect(result.destinations.top).toEqual(listed);
      expect(result.destinations.other.destinations).toBe(150 - listed.length);
      expect(result.destinations.other.flows).toBe(total - listed.reduce((sum, row) => sum + row.flows, 0));
      expect(result.findings.unknown.map((row) => row.destination)).toEqual(
        listed.map((row) => row.destination),
      );
    }
  });

  test('destinations are listed in the order of an object keyed by their names (array indexes first)', () => {
    // Hosts that are not valid names are kept as written, so "12" and "007" reach the table as is.
    const hosts = ['b.example', '12', '4294967295', 'a.example', '3', '007', '4294967294', '0', '-1', '1e3'];
    const aggregate = aggregateOf(hosts.map((host) => flow({ host, upstream: '10.9.0.2' })));
    const namesOf = (order: number[]) => order.map((index) => aggregate.destinationName(index));
    const names = namesOf(aggregate.destinationOrder());
    const byObject: Record<string, true> = Object.create(null);
    for (const name of names) byObject[name] = true;
    expect(new Set(names).size).toBe(hosts.length);
    expect(names).toEqual(Object.keys(byObject));
    expect(names.slice(0, 4)).toEqual(['0', '3', '12', '4294967294']);
    // Each call is a new array: sorting one does not reorder the next.
    aggregate.destinationOrder().reverse();
    expect(namesOf(aggregate.destinationOrder())).toEqual(names);
    for (const key of ['0', '9', '4294967294'] as const) expect(isArrayIndex(key)).toBe(true);
    for (const key of ['', '01', '4294967295', '-1', '1.5', '1e3', ' 1', '99999999999'] as const)
      expect(isArrayIndex(key)).toBe(false);
  });

  test('leak evidence is capped but the total is counted', () => {
    const leaks = Array.from({ length: 12 }, (_, i) =>
      flow({
        host: 'api.powerbi.com',
        upstream: '10.9.0.2',
        origin: { kind: 'squid', file: 'a.log', line: i + 1 },
      }),
    );
    const result = report(aggregateOf(leaks, { leaks: 5 }));
    expect(result.findings.leaks.total).toBe(12);
    expect(result.findings.leaks.omitted).toBe(7);
    expect(result.findings.leaks.items.map((leak) => leak.evidence)).toEqual([
      'a.log:1',
      'a.log:2',
      'a.log:3',
      'a.log:4',
      'a.log:5',
    ]);
  });
});

describe('TimeSeries', () => {
  test('picks the smallest ladder width that gives at most the target number of buckets', () => {
    const series = new TimeSeries();
    series.add(at(0), 0, 0, 10);
    series.add(at(239), 1, 1, 5);
    const result = series.result(120);
    // 4 hours in at most 120 buckets: 5-minute buckets (48 of them).
    expect(result.bucketMs).toBe(300_000);
    expect(result.buckets).toHaveLength(48);
    expect(result.buckets[0]).toMatchObject({ start: at(0), flows: 1, bytesByPath: { expressroute: 10 } });
    expect(result.buckets[47]).toMatchObject({ start: at(235), flows: 1, bytesByVerdict: { leak: 5 } });
    expect(result.buckets.slice(1, 47).every((bucket) => bucket.flows === 0)).toBe(true);
  });

  test('widens its buckets to stay bounded and keeps every byte', () => {
    const series = new TimeSeries(64);
    let total = 0;
    // Ten days of flows, one every 7 minutes, out of order at the start.
    series.add(at(60 * 24 * 5), 1, 2, 3);
    total += 3;
    for (let minute = 0; minute < 60 * 24 * 10; minute += 7) {
      series.add(at(minute), minute % 3, minute % 6, minute);
      total += minute;
    }
    expect(series.bucketMs).toBeGreaterThanOrEqual(((10 * 86_400_000) / 64) | 0);
    const result = series.result(120);
    expect(result.buckets.length).toBeLessThanOrEqual(120);
    const sum = result.buckets.reduce(
      (acc, bucket) =>
        acc + bucket.bytesByPath.expressroute + bucket.bytesByPath.internet + bucket.bytesByPath.unknown,
      0,
    );
    expect(sum).toBe(total);
    const verdictSum = result.buckets.reduce(
      (acc, bucket) => acc + Object.values(bucket.bytesByVerdict).reduce((a, b) => a + b, 0),
      0,
    );
    expect(verdictSum).toBe(total);
    for (const bucket of result.buckets) expect(bucket.start % result.bucketMs).toBe(0);
  });

  test('flows out of time order land in their own buckets, also when buckets share a recent place', () => {
    // 1-second buckets 256 apart share a place in the series' cache of recent buckets; the
    // expected counts are computed here from the times alone (epoch 0 onwards, so that bucket
    // indexes of two widths can be equal).
    const series = new TimeSeries(4096);
    const expected = new Map<number, number>();
    const seconds = [0, 256, 0, 512, 256, 1, 257, 0, 3000, 256, 2744, 0, 512];
    for (const [i, second] of seconds.entries()) {
      series.add(second * 1000 + (i % 7) * 100, 0, 0, 1);
      expected.set(second, (expected.get(second) ?? 0) + 1);
    }
    const result = series.result(4096);
    expect(result.bucketMs).toBe(1000);
    const counted = new Map<number, number>();
    for (const bucket of result.buckets) if (bucket.flows > 0) counted.set(bucket.start / 1000, bucket.flows);
    expect(counted).toEqual(expected);
    // A flow 5 hours later widens the buckets to 5 s. Second 2560 is bucket 512 at that width,
    // the index second 512 had at 1 s: the recent buckets of the old width must not be used.
    series.add(5 * 3_600_000, 0, 0, 1);
    series.add(2_560_000, 0, 0, 1);
    const wide = series.result(4096);
    expect(wide.bucketMs).toBe(5000);
    const at = (second: number) => wide.buckets.find((bucket) => bucket.start === second * 1000)?.flows;
    expect(at(2560)).toBe(1);
    expect(at(510)).toBe(expected.get(512));
    expect(wide.buckets.reduce((sum, bucket) => sum + bucket.flows, 0)).toBe(seconds.length + 2);
  });
});
