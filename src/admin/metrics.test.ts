import { Counter, register as globalRegistry, Histogram, Registry } from 'prom-client';
import { describe, expect, test } from 'vitest';
import { emptyFlow, type FlowRecord } from '../flow/record.js';
import { GatewayMetrics } from './metrics.js';

function finished(overrides: Partial<FlowRecord>): FlowRecord {
  return {
    ...emptyFlow({ kind: 'gateway' }),
    host: 'api.powerbi.com',
    actualPath: 'expressroute',
    expectedPath: 'expressroute',
    verdict: 'ok',
    egressPath: 'expressroute',
    outcome: 'forwarded',
    bytesUp: 100,
    bytesDown: 1000,
    ...overrides,
  };
}

/** The value of one sample line, e.g. `pathwarden_bytes_total{path="internet",direction="up"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('GatewayMetrics', () => {
  test('a reset of the registry resets the decision histogram: later reads count later decisions only', async () => {
    const metrics = new GatewayMetrics({ processMetrics: false });
    metrics.decisionObserved(2e-6);
    metrics.decisionObserved(3e-6);
    expect(await metrics.registry.metrics()).toContain('pathwarden_decision_duration_seconds_count 2\n');
    metrics.registry.resetMetrics();
    metrics.decisionObserved(2e-6);
    expect(await metrics.registry.metrics()).toContain('pathwarden_decision_duration_seconds_count 1\n');
  });

  test('flow counts kept between reads are added once, in the order the series first occurred', async () => {
    const metrics = new GatewayMetrics({ processMetrics: false });
    const reference = new Registry();
    const connections = new Counter({
      name: 'pathwarden_connections_total',
      help: 'x',
      labelNames: ['path', 'verdict', 'outcome'],
      registers: [reference],
    });
    const flows = [
      finished({ egressPath: 'internet', verdict: 'exception', bytesUp: 3, bytesDown: 4 }),
      finished({}),
      finished({ egressPath: null, verdict: 'leak', outcome: 'blocked', bytesUp: 0, bytesDown: null }),
      finished({ bytesUp: 5, bytesDown: 7 }),
    ];
    const series = (text: string) =>
      text.split('\n').filter((line) => line.startsWith('pathwarden_connections_total{'));
    for (const [index, flow] of flows.entries()) {
      metrics.flowFinished(flow);
      connections.inc({
        path: flow.egressPath ?? 'none',
        verdict: flow.verdict as string,
        outcome: flow.outcome as string,
      });
      if (index === 1) {
        const text = await metrics.metrics();
        expect(series(text)).toEqual(series(await reference.metrics()));
      }
    }
    metrics.flowFinished(
      finished({ egressPath: 'internet', verdict: 'exception', bytesUp: 1, bytesDown: 0 }),
    );
    connections.inc({ path: 'internet', verdict: 'exception', outcome: 'forwarded' });
    const text = await metrics.metrics();
    expect(series(text)).toEqual(series(await reference.metrics()));
    expect(
      sample(text, 'pathwarden_connections_total{path="internet",verdict="exception",outcome="forwarded"}'),
    ).toBe(2);
    expect(sample(text, 'pathwarden_bytes_total{path="internet",direction="up"}')).toBe(4);
    expect(sample(text, 'pathwarden_bytes_total{path="internet",direction="down"}')).toBe(4);
    expect(sample(text, 'pathwarden_bytes_total{path="expressroute",direction="up"}')).toBe(105);
    expect(
      sample(await metrics.metrics(), 'pathwarden_bytes_total{path="expressroute",direction="down"}'),
    ).toBe(1007);
  });

  test('decision times counted between reads read as prom-client`s histogram reads them, to the last digit', async () => {
    const metrics = new GatewayMetrics({ processMetrics: false });
    const reference = new Registry();
    const name = 'pathwarden_decision_duration_seconds';
    const histogram = new Histogram({
      name,
      help: 'Time spent deciding the path of one connection (catalog lookup and classification).',
      buckets: [1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2],
      registers: [reference],
    });
    /** The histogram's lines of a registry's text, and its JSON. */
    const read = async (registry: Registry) => ({
      text: (await registry.metrics()).split('\n').filter((line) => line.includes(name)),
      json: (await registry.getMetricsAsJSON()).find((metric) => metric.name === name),
    });
    expect(await read(metrics.registry)).toEqual(await read(reference));
    // Values on the bounds, between them, beyond the last, zero, awkward sums; read between batches.
    let seed = 7;
    for (let batch = 0; batch < 4; batch++) {
      for (let i = 0; i < 500; i++) {
        seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
        const value = [1e-6, 2.5e-6, 1e-2, 0, 0.1, 3.3e-6][i % 6] ?? 0;
        const seconds = i % 3 === 0 ? value : (seed / 2 ** 31) * 10 ** -(2 + (i % 5));
        metrics.decisionObserved(seconds);
        histogram.observe(seconds);
      }
      metrics.decisionObserved(Number.NaN);
      metrics.decisionObserved(-1);
      const ours = await read(metrics.registry);
      expect(ours).toEqual(await read(reference));
      expect(await read(metrics.registry)).toEqual(ours);
      expect(ours.text).toHaveLength(18);
    }
  });

  test('exposes connections, bytes, tunnels, health, decisions and store counters with their labels', async () => {
    const metrics = new GatewayMetrics({ processMetrics: false });
    metrics.flowFinished(finished({}));
    metrics.flowFinished(finished({ bytesUp: 5, bytesDown: 7 }));
    metrics.flowFinished(
      finished({ egressPath: 'internet', verdict: 'exception', bytesUp: 1, bytesDown: 2 }),
    );
    metrics.flowFinished(
      finished({ egressPath: null, verdict: 'leak', outcome: 'blocked', bytesUp: 0, bytesDown: null }),
    );
    // Values outside the known sets must not create new series.
    metrics.flowFinished(
      finished({ verdict: 'weird' as never, outcome: undefined, egressPath: 'moon' as never }),
    );
    metrics.tunnelOpened();
    metrics.tunnelOpened();
    metrics.tunnelOpened();
    metrics.tunnelClosed();
    metrics.pathHealth('expressroute', false);
    metrics.pathHealth('internet', true);
    metrics.decisionObserved(0.000_003);
    metrics.decisionObserved(0.2);
    metrics.storeWriteFailed();
    metrics.storeFlowsDropped(4);
    metrics.storeFlowsBuffered(12);

    const text = await metrics.metrics();
    expect(metrics.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(
      sample(text, 'pathwarden_connections_total{path="expressroute",verdict="ok",outcome="forwarded"}'),
    ).toBe(2);
    expect(
      sample(text, 'pathwarden_connections_total{path="internet",verdict="exception",outcome="forwarded"}'),
    ).toBe(1);
    expect(sample(text, 'pathwarden_connections_total{path="none",verdict="leak",outcome="blocked"}')).toBe(
      1,
    );
    expect(sample(text, 'pathwarden_connections_total{path="other",verdict="other",outcome="none"}')).toBe(1);
    expect(sample(text, 'pathwarden_bytes_total{path="expressroute",direction="up"}')).toBe(105);
    expect(sample(text, 'pathwarden_bytes_total{path="expressroute",direction="down"}')).toBe(1007);
    expect(sample(text, 'pathwarden_bytes_total{path="internet",direction="up"}')).toBe(1);
    expect(sample(text, 'pathwarden_bytes_total{path="internet",direction="down"}')).toBe(2);
    expect(sample(text, 'pathwarden_active_tunnels')).toBe(2);
    expect(sample(text, 'pathwarden_path_up{path="expressroute"}')).toBe(0);
    expect(sample(text, 'pathwarden_path_up{path="internet"}')).toBe(1);
    expect(sample(text, 'pathwarden_decision_duration_seconds_bucket{le="0.000005"}')).toBe(1);
    expect(sample(text, 'pathwarden_decision_duration_seconds_bucket{le="0.01"}')).toBe(1);
    expect(sample(text, 'pathwarden_decision_duration_seconds_bucket{le="+Inf"}')).toBe(2);
    expect(sample(text, 'pathwarden_decision_duration_seconds_count')).toBe(2);
    expect(sample(text, 'pathwarden_store_write_errors_total')).toBe(1);
    expect(sample(text, 'pathwarden_store_dropped_flows_total')).toBe(4);
    expect(sample(text, 'pathwarden_store_buffered_flows')).toBe(12);
    expect(text).toContain('# TYPE pathwarden_connections_total counter');
    expect(text).toContain('# TYPE pathwarden_active_tunnels gauge');
    expect(text).toContain('# TYPE pathwarden_decision_duration_seconds histogram');
    // Every metric carries the prefix.
    const names = [...text.matchAll(/^# TYPE (\S+) /gm)].map((match) => match[1]);
    for (const name of names) expect(name).toMatch(/^pathwarden_/);
  });

  test('series read zero before the first event, and tunnels never go below zero', async () => {
    const metrics = new GatewayMetrics({ processMetrics: false });
    metrics.tunnelClosed();
    const text = await metrics.metrics();
    expect(sample(text, 'pathwarden_active_tunnels')).toBe(0);
    expect(sample(text, 'pathwarden_bytes_total{path="expressroute",direction="up"}')).toBe(0);
    expect(sample(text, 'pathwarden_bytes_total{path="internet",direction="down"}')).toBe(0);
    expect(sample(text, 'pathwarden_store_write_errors_total')).toBe(0);
    expect(sample(text, 'pathwarden_store_buffered_flows')).toBe(0);
  });

  test('each instance has its own registry; the global one stays empty', async () => {
    const first = new GatewayMetrics();
    const second = new GatewayMetrics();
    first.tunnelOpened();
    expect(sample(await first.metrics(), 'pathwarden_active_tunnels')).toBe(1);
    expect(sample(await second.metrics(), 'pathwarden_active_tunnels')).toBe(0);
    // Process metrics are prefixed too.
    expect(await first.metrics()).toContain('pathwarden_process_cpu_seconds_total');
    expect(await globalRegistry.metrics()).not.toContain('pathwarden_');
  });
});
