// Bytes and connections per path over time, from FlowStats.series, as two charts and one table
// (the table is the accessible form of the same numbers).
import { useMemo } from 'preact/hooks';
import type { FlowStats } from '../api/types.js';
import { formatBytes, formatCount, formatTime } from '../format.js';
import { fallbackColors, pathColors, pathNames } from '../labels.js';
import { type ChartSeries, TimeChart } from './time-chart.js';

interface Columns {
  /** Bucket starts, epoch ms. */
  times: number[];
  paths: string[];
  bytes: Map<string, number[]>;
  flows: Map<string, number[]>;
}

/** Pivots the store's long rows (t, path, flows, bytes) into one column per path. */
export function pivotSeries(series: FlowStats['series']): Columns {
  const times = bucketTimes(series);
  const index = new Map(times.map((t, i) => [t, i]));
  const order = (path: string) => (path === 'expressroute' ? 0 : path === 'internet' ? 1 : 2);
  const paths = [...new Set(series.points.map((point) => point.path))].sort(
    (a, b) => order(a) - order(b) || a.localeCompare(b),
  );
  const bytes = new Map(paths.map((path) => [path, new Array<number>(times.length).fill(0)]));
  const flows = new Map(paths.map((path) => [path, new Array<number>(times.length).fill(0)]));
  for (const point of series.points) {
    const i = index.get(point.t) ?? 0;
    const b = bytes.get(point.path);
    const f = flows.get(point.path);
    if (b) b[i] = (b[i] ?? 0) + point.bytes;
    if (f) f[i] = (f[i] ?? 0) + point.flows;
  }
  return { times, paths, bytes, flows };
}

/**
 * Every bucket from the first to the last, not only those with traffic: the store returns no point
 * for an empty bucket, and a line drawn straight across the gap would show traffic that never was.
 */
function bucketTimes(series: FlowStats['series']): number[] {
  const seen = [...new Set(series.points.map((point) => point.t))].sort((a, b) => a - b);
  const first = seen[0];
  const last = seen[seen.length - 1];
  if (first === undefined || last === undefined || series.bucketMs <= 0) return seen;
  if ((last - first) / series.bucketMs > 5000) return seen;
  const times: number[] = [];
  for (let t = first; t <= last; t += series.bucketMs) times.push(t);
  return times;
}

function colorOf(path: string, i: number): string {
  return pathColors[path] ?? fallbackColors[i % fallbackColors.length] ?? '#57606a';
}

export function PathCharts({
  series,
  onFirstDraw,
}: {
  series: FlowStats['series'];
  onFirstDraw?: () => void;
}) {
  const columns = useMemo(() => pivotSeries(series), [series]);
  const seconds = useMemo(() => columns.times.map((t) => t / 1000), [columns]);
  const chartSeries = (values: Map<string, number[]>): ChartSeries[] =>
    columns.paths.map((path, i) => ({
      label: pathNames[path] ?? path,
      color: colorOf(path, i),
      values: values.get(path) ?? [],
    }));
  const bytesSeries = useMemo(() => chartSeries(columns.bytes), [columns]);
  const flowsSeries = useMemo(() => chartSeries(columns.flows), [columns]);
  const bucket =
    series.bucketMs >= 60_000 ? `${series.bucketMs / 60_000} min` : `${series.bucketMs / 1000} s`;

  if (columns.times.length === 0) return <p class="muted">No flows in this range.</p>;
  return (
    <>
      <div class="chart-grid">
        <figure class="card chart-card" data-testid="chart-bytes">
          <figcaption>
            <h3>Bytes per path</h3>
            <span class="muted">per {bucket}</span>
          </figcaption>
          <TimeChart times={seconds} series={bytesSeries} formatValue={formatBytes} onDraw={onFirstDraw} />
        </figure>
        <figure class="card chart-card" data-testid="chart-flows">
          <figcaption>
            <h3>Connections per path</h3>
            <span class="muted">per {bucket}</span>
          </figcaption>
          <TimeChart times={seconds} series={flowsSeries} formatValue={formatCount} />
        </figure>
      </div>
      <details class="chart-table">
        <summary>Chart data as a table</summary>
        <div class="table-scroll">
          <table>
            <caption class="visually-hidden">Bytes and connections per path per {bucket}</caption>
            <thead>
              <tr>
                <th scope="col">Bucket start</th>
                {columns.paths.map((path) => (
                  <th scope="col" class="num" key={path}>
                    {pathNames[path] ?? path} bytes / connections
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {columns.times.map((t, i) => (
                <tr key={t}>
                  <td class="nowrap">{formatTime(t)}</td>
                  {columns.paths.map((path) => (
                    <td class="num" key={path}>
                      {formatBytes(columns.bytes.get(path)?.[i] ?? 0)} /{' '}
                      {formatCount(columns.flows.get(path)?.[i] ?? 0)}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </>
  );
}
