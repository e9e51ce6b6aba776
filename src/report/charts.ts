// Inline SVG charts as strings, written in TypeScript so that the HTML audit report and the
// dashboard draw the same pictures from the same numbers. No DOM, no fonts to fetch, no script:
// the output can be pasted into any HTML page (or saved as an .svg file) and opened offline.
//
// Conventions shared by every chart here:
// - `id` must be unique in the page; it prefixes the ids that aria-labelledby points at.
// - The root is `<svg role="img">` with a <title> and a <desc>, so screen readers announce what the
//   chart shows; every bar carries its own <title> (a native tooltip with the exact figure).
// - Marks carry `data-series` and `data-value` attributes, so tests (and scripts) can read the
//   numbers a chart shows without parsing geometry.
// - Colours are passed in by the caller; pick ones with at least 3:1 contrast against white.
import { escapeMarkup } from './escape.js';
import { formatTimeLabel } from './format.js';

export interface ChartSeries {
  /** Stable key, written to `data-series` (e.g. `leak`, `expressroute`). */
  key: string;
  /** Text shown in the legend and tooltips. */
  label: string;
  /** Fill colour (any CSS colour). */
  color: string;
}

export interface TimeBucket {
  /** Start of the bucket, epoch milliseconds (UTC). */
  start: number;
  /** One value per series, in the order of `series`. */
  values: readonly number[];
}

export interface StackedTimeChartOptions {
  id: string;
  title: string;
  description: string;
  series: readonly ChartSeries[];
  buckets: readonly TimeBucket[];
  /** Width of one bucket in milliseconds (for labels and tooltips). */
  bucketMs: number;
  formatValue: (value: number) => string;
  width?: number;
  height?: number;
}

export interface BarItem {
  label: string;
  value: number;
  /** Overrides the chart's colour for this bar (e.g. the colour of the destination's verdict). */
  color?: string;
  /** Written to `data-series`; defaults to `value`. */
  key?: string;
  /** Extra text for the tooltip. */
  detail?: string;
}

export interface BarChartOptions {
  id: string;
  title: string;
  description: string;
  items: readonly BarItem[];
  formatValue: (value: number) => string;
  color?: string;
  /** Legend entries explaining the bar colours (optional). */
  legend?: readonly ChartSeries[];
  width?: number;
}

const font = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif"';
const textColor = '#1f2937';
const gridColor = '#d1d5db';

/**
 * Columns stacked per time bucket, one colour per series: bytes per path or per verdict over time.
 * Empty buckets keep their slot, so gaps in traffic show as gaps.
 */
export function stackedTimeChart(options: StackedTimeChartOptions): string {
  const width = options.width ?? 960;
  const height = options.height ?? 300;
  const margin = { left: 76, right: 16, top: 40, bottom: 44 };
  const plotWidth = width - margin.left - margin.right;
  const plotHeight = height - margin.top - margin.bottom;
  const parts: string[] = [open(options.id, options.title, options.description, width, height)];
  parts.push(legend(options.series, margin.left, 16));
  const totals = options.buckets.map((bucket) => bucket.values.reduce((sum, value) => sum + value, 0));
  const max = Math.max(0, ...totals);
  if (options.buckets.length === 0 || max === 0) {
    parts.push(
      `<text x="${width / 2}" y="${margin.top + plotHeight / 2}" text-anchor="middle" fill="${textColor}" font-size="14" ${font}>No timed traffic to show</text>`,
    );
    parts.push('</svg>');
    return parts.join('');
  }
  const ticks = niceTicks(max);
  const top = ticks[ticks.length - 1] as number;
  const y = (value: number) => margin.top + plotHeight - (value / top) * plotHeight;
  parts.push(yAxis(ticks, y, margin.left, width - margin.right, options.formatValue));
  const band = plotWidth / options.buckets.length;
  const barWidth = Math.max(1, band * 0.86);
  const labelEvery = Math.max(1, Math.ceil(options.buckets.length / 8));
  options.buckets.forEach((bucket, index) => {
    const x = margin.left + index * band + (band - barWidth) / 2;
    const when = formatTimeLabel(bucket.start, options.bucketMs);
    let base = 0;
    bucket.values.forEach((value, s) => {
      if (value <= 0) return;
      const series = options.series[s] as ChartSeries;
      const y0 = y(base);
      const y1 = y(base + value);
      base += value;
      parts.push(
        `<rect x="${fixed(x)}" y="${fixed(y1)}" width="${fixed(barWidth)}" height="${fixed(Math.max(0.5, y0 - y1))}" fill="${escapeMarkup(series.color)}" data-series="${escapeMarkup(series.key)}" data-value="${value}"><title>${escapeMarkup(`${when} UTC, ${series.label}: ${options.formatValue(value)}`)}</title></rect>`,
      );
    });
    if (index % labelEvery === 0) {
      parts.push(
        `<text x="${fixed(margin.left + index * band + band / 2)}" y="${height - margin.bottom + 18}" text-anchor="middle" fill="${textColor}" font-size="11" ${font}>${escapeMarkup(when)}</text>`,
      );
    }
  });
  parts.push(
    `<line x1="${margin.left}" y1="${margin.top + plotHeight}" x2="${width - margin.right}" y2="${margin.top + plotHeight}" stroke="${textColor}"/>`,
  );
  parts.push(
    `<text x="${width - margin.right}" y="${height - 6}" text-anchor="end" fill="${textColor}" font-size="11" ${font}>time (UTC)</text>`,
  );
  parts.push('</svg>');
  return parts.join('');
}

/** Horizontal bars, largest first as given: top destinations, top exceptions. */
export function horizontalBarChart(options: BarChartOptions): string {
  const width = options.width ?? 960;
  const rowHeight = 24;
  const labelWidth = 300;
  const valueWidth = 90;
  const top = options.legend && options.legend.length > 0 ? 36 : 8;
  const height = top + Math.max(1, options.items.length) * rowHeight + 8;
  const parts: string[] = [open(options.id, options.title, options.description, width, height)];
  if (options.legend && options.legend.length > 0) parts.push(legend(options.legend, 8, 14));
  if (options.items.length === 0) {
    parts.push(
      `<text x="8" y="${top + 16}" fill="${textColor}" font-size="14" ${font}>Nothing to show</text></svg>`,
    );
    return parts.join('');
  }
  const max = Math.max(...options.items.map((item) => item.value), 0);
  const barSpace = width - labelWidth - valueWidth - 16;
  options.items.forEach((item, index) => {
    const yTop = top + index * rowHeight;
    const barLength = max > 0 ? Math.max(item.value > 0 ? 1 : 0, (item.value / max) * barSpace) : 0;
    const color = item.color ?? options.color ?? '#2563eb';
    const text = `${item.label}: ${options.formatValue(item.value)}${item.detail ? ` (${item.detail})` : ''}`;
    parts.push(
      `<text x="${labelWidth - 8}" y="${yTop + 16}" text-anchor="end" fill="${textColor}" font-size="12" ${font}>${escapeMarkup(truncate(item.label, 44))}</text>`,
      `<rect x="${labelWidth}" y="${yTop + 4}" width="${fixed(barLength)}" height="${rowHeight - 8}" fill="${escapeMarkup(color)}" data-series="${escapeMarkup(item.key ?? 'value')}" data-value="${item.value}"><title>${escapeMarkup(text)}</title></rect>`,
      `<text x="${fixed(labelWidth + barLength + 6)}" y="${yTop + 16}" fill="${textColor}" font-size="12" ${font}>${escapeMarkup(options.formatValue(item.value))}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('');
}

function open(id: string, title: string, description: string, width: number, height: number): string {
  const safeId = escapeMarkup(id);
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" id="${safeId}" role="img" aria-labelledby="${safeId}-title ${safeId}-desc" ` +
    `viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" class="chart">` +
    `<title id="${safeId}-title">${escapeMarkup(title)}</title><desc id="${safeId}-desc">${escapeMarkup(description)}</desc>`
  );
}

function legend(series: readonly ChartSeries[], x0: number, y: number): string {
  let x = x0;
  const parts: string[] = [];
  for (const entry of series) {
    parts.push(
      `<rect x="${x}" y="${y - 10}" width="12" height="12" fill="${escapeMarkup(entry.color)}"/>`,
      `<text x="${x + 16}" y="${y}" fill="${textColor}" font-size="12" ${font}>${escapeMarkup(entry.label)}</text>`,
    );
    // Approximate text width: charts must not depend on font metrics they cannot measure.
    x += 16 + entry.label.length * 7 + 18;
  }
  return parts.join('');
}

function yAxis(
  ticks: readonly number[],
  y: (value: number) => number,
  left: number,
  right: number,
  formatValue: (value: number) => string,
): string {
  return ticks
    .map(
      (tick) =>
        `<line x1="${left}" y1="${fixed(y(tick))}" x2="${right}" y2="${fixed(y(tick))}" stroke="${gridColor}" stroke-width="1"/>` +
        `<text x="${left - 6}" y="${fixed(y(tick) + 4)}" text-anchor="end" fill="${textColor}" font-size="11" ${font}>${escapeMarkup(formatValue(tick))}</text>`,
    )
    .join('');
}

/** 0 and 4-6 evenly spaced round values covering `max` (steps of 1, 2, 2.5 or 5 times a power of 10). */
export function niceTicks(max: number): number[] {
  if (!(max > 0)) return [0, 1];
  const rough = max / 4;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = ([1, 2, 2.5, 5, 10].find((factor) => factor * power >= rough) ?? 10) * power;
  const ticks: number[] = [];
  for (let value = 0; value < max + step; value += step) {
    ticks.push(Number(value.toPrecision(12)));
    if (value >= max) break;
  }
  return ticks;
}

function fixed(value: number): string {
  return (Math.round(value * 100) / 100).toString();
}

function truncate(text: string, length: number): string {
  return text.length <= length ? text : `${text.slice(0, length - 1)}…`;
}
