// Loads /api/stats for the overview's time range with a bucket size that gives the charts about
// a hundred points, whatever the span of the data: "all" asks the store once for its own bucketing
// and asks again only when that gives far too many or too few points.
import { useEffect, useState } from 'preact/hooks';
import { apiGet } from '../api/client.js';
import type { FlowStats, StatsResponse } from '../api/types.js';

export const ranges = {
  '15m': { label: 'Last 15 minutes', ms: 15 * 60_000 },
  '1h': { label: 'Last hour', ms: 3_600_000 },
  '6h': { label: 'Last 6 hours', ms: 6 * 3_600_000 },
  '24h': { label: 'Last 24 hours', ms: 24 * 3_600_000 },
  '7d': { label: 'Last 7 days', ms: 7 * 24 * 3_600_000 },
  all: { label: 'All stored flows', ms: 0 },
} as const;
export type RangeKey = keyof typeof ranges;

const TARGET_POINTS = 120;
const niceBuckets = [
  1_000, 5_000, 10_000, 30_000, 60_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000, 10_800_000,
  21_600_000, 43_200_000, 86_400_000, 604_800_000,
];

export function niceBucket(spanMs: number): number {
  const wanted = spanMs / TARGET_POINTS;
  return niceBuckets.find((bucket) => bucket >= wanted) ?? niceBuckets[niceBuckets.length - 1] ?? 86_400_000;
}

export interface OverviewStats {
  /** The statistics of the chosen gateway (of every gateway when none is chosen). */
  stats: FlowStats;
  /** Flows and bytes per gateway over the whole range, whichever gateway is chosen. */
  byGateway: FlowStats['byGateway'];
  from: number | undefined;
  to: number | undefined;
}

/** The largest bucket: the fleet-wide call only needs its per-gateway totals, not a series. */
export const TOTALS_BUCKET = 604_800_000;

export async function loadOverviewStats(
  range: RangeKey,
  gateway: string,
  signal?: AbortSignal,
): Promise<OverviewStats> {
  const filter = gateway === '' ? {} : { gateway };
  const [stats, from, to] = await loadRangeStats(range, filter, signal);
  const byGateway =
    gateway === ''
      ? stats.byGateway
      : (await apiGet<StatsResponse>('/api/stats', { from, to, bucket: TOTALS_BUCKET }, signal)).byGateway;
  return { stats, byGateway, from, to };
}

async function loadRangeStats(
  range: RangeKey,
  filter: { gateway?: string },
  signal?: AbortSignal,
): Promise<[FlowStats, number | undefined, number | undefined]> {
  if (range !== 'all') {
    const to = Date.now();
    const from = to - ranges[range].ms;
    const stats = await apiGet<StatsResponse>(
      '/api/stats',
      { ...filter, from, to, bucket: niceBucket(ranges[range].ms) },
      signal,
    );
    return [stats, from, to];
  }
  const first = await apiGet<StatsResponse>('/api/stats', filter, signal);
  const times = first.series.points.map((point) => point.t);
  if (times.length === 0) return [first, undefined, undefined];
  const span = Math.max(...times) - Math.min(...times) + first.series.bucketMs;
  const buckets = span / first.series.bucketMs;
  if (buckets >= 20 && buckets <= 600) return [first, undefined, undefined];
  const bucketMs = niceBucket(span);
  if (bucketMs === first.series.bucketMs) return [first, undefined, undefined];
  const stats = await apiGet<StatsResponse>('/api/stats', { ...filter, bucket: bucketMs }, signal);
  return [stats, undefined, undefined];
}

export function useOverviewStats(range: RangeKey, gateway: string, refresh: number) {
  const [state, setState] = useState<{ data?: OverviewStats; error?: Error; loading: boolean }>({
    loading: true,
  });
  useEffect(() => {
    const controller = new AbortController();
    setState((previous) => ({ ...previous, loading: true }));
    loadOverviewStats(range, gateway, controller.signal).then(
      (data) => setState({ data, loading: false }),
      (error: unknown) => {
        if (!controller.signal.aborted)
          setState((previous) => ({ ...previous, error: error as Error, loading: false }));
      },
    );
    return () => controller.abort();
  }, [range, gateway, refresh]);
  return state;
}
