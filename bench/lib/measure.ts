// Timing helpers shared by the benchmarks: medians of repeated runs, with a full GC between
// runs (when node runs with --expose-gc) so one run's garbage is not collected on the next's clock.
import { readFileSync } from 'node:fs';

export interface Measurement {
  /** Median rate over the runs, in operations per second of wall time. */
  rate: number;
  /** Every run's rate, in run order. */
  rates: number[];
  /**
   * Median rate per second of this process's CPU time (user + system). On a machine shared with
   * other work it is closer to what one free core does than the wall-time rate.
   */
  cpuRate: number;
  operations: number;
}

const collect = (globalThis as { gc?: () => void }).gc;

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Runs `body` (which performs `operations` operations) `runs` times; returns the median rate. */
export function measureSync(runs: number, operations: number, body: () => unknown): Measurement {
  const rates: number[] = [];
  const cpuRates: number[] = [];
  for (let run = 0; run < runs; run++) {
    collect?.();
    const cpu = process.cpuUsage();
    const start = process.hrtime.bigint();
    keep(body());
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    rates.push(operations / seconds);
    cpuRates.push(operations / cpuSeconds(process.cpuUsage(cpu)));
  }
  return { rate: median(rates), rates, cpuRate: median(cpuRates), operations };
}

export async function measureAsync(
  runs: number,
  operations: number,
  body: () => Promise<unknown>,
): Promise<Measurement> {
  const rates: number[] = [];
  const cpuRates: number[] = [];
  for (let run = 0; run < runs; run++) {
    collect?.();
    const cpu = process.cpuUsage();
    const start = process.hrtime.bigint();
    keep(await body());
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    rates.push(operations / seconds);
    cpuRates.push(operations / cpuSeconds(process.cpuUsage(cpu)));
  }
  return { rate: median(rates), rates, cpuRate: median(cpuRates), operations };
}

function cpuSeconds(usage: NodeJS.CpuUsage): number {
  return (usage.user + usage.system) / 1e6;
}

/** Fields of /proc/PID/stat after the command name (which may hold spaces); undefined off Linux. */
function procStat(pid: number | 'self'): string[] | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

// In /proc/PID/stat, state is field 3, utime 14, stime 15, cutime 16, cstime 17, in clock ticks of
// USER_HZ, which Linux fixes at 100 for /proc.

/**
 * CPU seconds (user + system) used so far by this process's finished children, from
 * /proc/self/stat (Linux); `undefined` where that file does not exist.
 */
export function childrenCpuSeconds(): number | undefined {
  const fields = procStat('self');
  return fields && (Number(fields[13]) + Number(fields[14])) / 100;
}

/** CPU seconds (user + system) used so far by a running process (Linux); undefined when unknown. */
export function processCpuSeconds(pid: number): number | undefined {
  const fields = procStat(pid);
  return fields && (Number(fields[11]) + Number(fields[12])) / 100;
}

let sink: unknown;
/** Holds on to a result so the optimizer cannot drop the work that produced it. */
function keep(value: unknown): void {
  sink = value;
}
export const lastResult = (): unknown => sink;

/** 3 140 000 -> "3.14M", 41 200 -> "41.2k". */
export function formatRate(rate: number): string {
  if (rate >= 1e6) return `${(rate / 1e6).toFixed(2)}M`;
  if (rate >= 1e3) return `${(rate / 1e3).toFixed(1)}k`;
  return rate.toFixed(0);
}

export function formatRatio(ratio: number): string {
  if (!Number.isFinite(ratio)) return '-';
  return ratio >= 100 ? `${ratio.toFixed(0)}x` : `${ratio.toFixed(ratio >= 10 ? 1 : 2)}x`;
}

/** A plain-text table with a header row, columns padded; the first column left-aligned. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((cell, i) => Math.max(cell.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] as number) : cell.padStart(widths[i] as number))).join(' | ')} |`;
  const rule = `|${widths.map((width, i) => (i === 0 ? `:${'-'.repeat(width + 1)}` : `${'-'.repeat(width + 1)}:`)).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}
