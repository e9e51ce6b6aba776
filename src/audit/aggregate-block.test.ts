// The aggregate keeps every destination's counts in one numbered block that doubles as it fills
// (session 9): past several doublings, and merged from parts that numbered the same destinations
// in another order (the `--jobs` workers), the report must equal one pass over all flows, for a
// short, the default and a full destination list; past the destination limit it says so.
import { expect, test } from 'vitest';
import { classifyFlow } from '../flow/classify.js';
import { emptyFlow, type FlowRecord } from '../flow/record.js';
import { PathResolver, topologySchema } from '../policy/topology.js';
import { AuditAggregate } from './aggregate.js';
import { aggregateReport, at, builtinPolicy } from './test-support.js';

const resolver = new PathResolver(
  topologySchema.parse({
    expressroute: { proxies: ['10.9.0.1:3128'], prefixes: ['2001:db8:e5::/48'] },
    internet: { proxies: ['10.9.0.2:3128'] },
    default: 'internet',
  }),
);
const policy = builtinPolicy();
function flow(i: number, fields: Partial<FlowRecord>): FlowRecord {
  return { ...emptyFlow({ kind: 'squid', file: 'access.log', line: i + 1 }), ...fields };
}
const report = aggregateReport;
let seed = 7;
const rnd = (n: number) => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return (seed >>> 8) % n;
};
const flows: FlowRecord[] = [];
for (let i = 0; i < 40000; i++) {
  const k = rnd(3000);
  const host =
    k < 10
      ? 'api.powerbi.com'
      : k < 20
        ? 'app.powerbi.com'
        : k < 300
          ? `t${k}.powerbi.com`
          : k < 400
            ? String(k * 13)
            : k < 500
              ? `2001:db8:e5::${k.toString(16)}`
              : k < 600
                ? `2001:db8:77::${k.toString(16)}`
                : k < 700
                  ? `13.73.248.${k % 256}`
                  : `n${k}.example`;
  const isAddr = host.includes(':') || /^\d+\.\d+\.\d+\.\d+$/.test(host);
  const component = rnd(10) === 0 ? 'mobile' : undefined;
  flows.push(
    flow(i, {
      host: isAddr ? null : host,
      destination: isAddr ? host : null,
      component,
      upstream: rnd(3) === 0 ? null : rnd(2) ? '10.9.0.1' : '10.9.0.2',
      bytesUp: rnd(4) === 0 ? 0 : rnd(3) * 500,
      bytesDown: rnd(5) === 0 ? 0 : rnd(4) * 1000,
      start: rnd(20) === 0 ? null : at(i),
      end: rnd(20) === 0 ? null : at(i + 1),
    }),
  );
}
function agg(list: FlowRecord[], limits = {}) {
  const a = new AuditAggregate('saas', limits);
  for (const f of list) a.add(f, classifyFlow(f, policy, resolver));
  return a;
}
test('many destinations, merged from differently numbered parts, give the report of one pass', () => {
  const single = agg(flows);
  for (const top of [0, 20, 5000]) {
    const r = report(single, top);
    // Each part meets the destinations in another order, so numbers them differently.
    const cuts = [0, 7000, 7001, 23000, 40000];
    const merged = new AuditAggregate('saas', {});
    for (let p = 0; p + 1 < cuts.length; p++) {
      const part = agg(flows.slice(cuts[p], cuts[p + 1]));
      expect(merged.merge(structuredClone(part.snapshot()))).toBe(true);
    }
    expect(report(merged, top)).toEqual(r);
  }
  // Past 1,024: the block, made for 256, doubled three times.
  expect(single.destinationCount).toBeGreaterThan(1024);
});
test('past the destination limit the list says it is incomplete', () => {
  const r = report(agg(flows, { destinations: 300 }), 20);
  expect(r.destinations.complete).toBe(false);
});
