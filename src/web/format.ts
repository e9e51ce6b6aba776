// How numbers, sizes and times read on the page: one place, so every page agrees.
const count = new Intl.NumberFormat('en-US');

export function formatCount(value: number | null | undefined): string {
  return value === null || value === undefined ? '–' : count.format(value);
}

const units = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];

/** Decimal units (1 KB = 1000 B), as network gear counts. */
export function formatBytes(value: number | null | undefined): string {
  if (value === null || value === undefined) return '–';
  let scaled = value;
  let unit = 0;
  while (scaled >= 1000 && unit < units.length - 1) {
    scaled /= 1000;
    unit++;
  }
  return `${unit === 0 ? scaled : scaled.toFixed(scaled >= 100 ? 0 : 1)} ${units[unit]}`;
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** Local time as `YYYY-MM-DD HH:MM:SS`: sortable, unambiguous, the same in every locale. */
export function formatTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '–';
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Value for <input type="datetime-local"> (local time, seconds). */
export function toLocalInput(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '';
  return formatTime(ms).replace(' ', 'T');
}

export function fromLocalInput(text: string): number | undefined {
  if (text === '') return undefined;
  const ms = new Date(text).getTime();
  return Number.isNaN(ms) ? undefined : ms;
}

export function formatAgo(ms: number, now = Date.now()): string {
  const seconds = Math.max(0, Math.round((now - ms) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 120) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.round(hours / 24)} days ago`;
}
