// Number, byte and time formatting shared by the terminal summary, the HTML report and the charts,
// so that a figure reads the same everywhere it is shown.

const byteUnits = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];

/** Bytes in decimal units (1 kB = 1000 B, as network tools and link speeds count). */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return '-';
  let value = Math.abs(bytes);
  let unit = 0;
  while (value >= 1000 && unit < byteUnits.length - 1) {
    value /= 1000;
    unit++;
  }
  const digits = unit === 0 || value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${bytes < 0 ? '-' : ''}${value.toFixed(digits)} ${byteUnits[unit]}`;
}

/** An integer with thousands separators (`1,234,567`), independent of the machine's locale. */
export function formatCount(count: number): string {
  const text = String(Math.round(count));
  return text.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** A share as a percentage with one decimal (`12.5%`); `-` when the whole is zero. */
export function formatShare(part: number, whole: number): string {
  if (whole <= 0) return '-';
  return `${((part / whole) * 100).toFixed(1)}%`;
}

/** ISO 8601 UTC time without milliseconds when they are zero, or `-` for an unknown time. */
export function formatTime(epochMs: number | null | undefined): string {
  // Outside the ±8.64e15 ms a Date holds, toISOString would throw: a report shows it as unknown.
  if (epochMs === null || epochMs === undefined || !(Math.abs(epochMs) <= 8.64e15)) return '-';
  const iso = new Date(epochMs).toISOString();
  return iso.endsWith('.000Z') ? `${iso.slice(0, -5)}Z` : iso;
}

/** A short UTC time label for a chart axis, precise enough for the bucket width. */
export function formatTimeLabel(epochMs: number, bucketMs: number): string {
  const iso = new Date(epochMs).toISOString();
  if (bucketMs >= 86_400_000) return iso.slice(0, 10);
  if (bucketMs >= 60_000) return `${iso.slice(5, 10)} ${iso.slice(11, 16)}`;
  return iso.slice(11, 19);
}

/** A bucket width in words for captions (`5 min`, `1 h`, `1 d`). */
export function formatDuration(ms: number): string {
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${seconds / 60} min`;
  if (seconds < 86_400) return `${seconds / 3600} h`;
  return `${seconds / 86_400} d`;
}
