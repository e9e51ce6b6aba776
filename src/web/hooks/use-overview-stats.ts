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
  stats: FlowStats;
  from: number | undefined;
  to: number | undefined;
}

export async function loadOverviewStats(range: RangeKey, signal?: AbortSignal): Promise<OverviewStats> {
  if (range !== 'all') {
    const to = Date.now();
    const from = to - ranges[range].ms;
    const stats = await apiGet<StatsResponse>(
      '/api/stats',
      { from, to, bucket: niceBucket(ranges[range].ms) },
      signal,
    );
    return { stats, from, to };
  }
  const first = await apiGet<StatsResponse>('/api/stats', {}, signal);
  const times = first.series.points.map((point) => point.t);
  if (times.length === 0) return { stats: first, from: undefined, to: undefined };
  const span = Math.max(...times) - Math.min(...times) + first.series.bucketMs;
  const buckets = span / first.series.bucketMs;
  if (buckets >= 20 && buckets <= 600) return { stats: first, from: undefined, to: undefined };
  const bucketMs = niceBucket(span);
  if (bucketMs === first.series.bucketMs) return { stats: first, from: undefined, to: undefined };
  const stats = await apiGet<StatsResponse>('/api/stats', { bucket: bucketMs }, signal);
  return { stats, from: undefined, to: undefined };
}

export function useOverviewStats(range: RangeKey, refresh: number) {
  const [state, setState] = useState<{ data?: OverviewStats; error?: Error; loading: boolean }>({
    loading: true,
  });
  useEffect(() => {
    const controller = new AbortController();
    setState((previous) => ({ ...previous, loading: true }));
    loadOverviewStats(range, controller.signal).then(
      (data) => setState({ data, loading: false }),
      (error: unknown) => {
        if (!controller.signal.aborted)
          setState((previous) => ({ ...previous, error: error as Error, loading: false }));
      },
    );
    return () => controller.abort();
  }, [range, refresh]);
  return state;
}
