// `pathwarden explain -` as users run it (a separate process reading a host list on stdin and
// writing NDJSON), timed from spawn to exit, next to two floors measured on the same file in the
// same run: `wc -l`, and a node process that only reads the lines the way explain does.
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TimelineMark } from './explain-timeline.js';
import { childrenCpuSeconds, median } from './measure.js';

export interface ProcessRun {
  seconds: number;
  /** CPU seconds (user + system) of the child, where the platform tells (Linux). */
  cpuSeconds: number | undefined;
  exitCode: number | null;
  /** Newlines written to stdout, when counted. */
  stdoutLines: number | undefined;
  stdoutBytes: number | undefined;
  stderr: string;
}

/** Runs a command with stdin from `inputFile`; stdout is counted, or sent to /dev/null. */
export function runProcess(
  command: string,
  args: readonly string[],
  inputFile: string,
  stdout: 'count' | 'discard',
  env?: NodeJS.ProcessEnv,
): Promise<ProcessRun> {
  const input = openSync(inputFile, 'r');
  const cpuBefore = childrenCpuSeconds();
  const start = process.hrtime.bigint();
  const child = spawn(command, args, {
    stdio: [input, stdout === 'count' ? 'pipe' : 'ignore', 'pipe'],
    ...(env ? { env } : {}),
  });
  closeSync(input);
  let lines = 0;
  let bytes = 0;
  child.stdout?.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) lines++;
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (text: string) => {
    if (stderr.length < 4096) stderr += text;
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (exitCode) => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const cpuAfter = childrenCpuSeconds();
      resolve({
        seconds,
        cpuSeconds: cpuBefore === undefined || cpuAfter === undefined ? undefined : cpuAfter - cpuBefore,
        exitCode,
        stdoutLines: stdout === 'count' ? lines : undefined,
        stdoutBytes: stdout === 'count' ? bytes : undefined,
        stderr,
      });
    });
  });
}

export interface ProcessTiming {
  /** Median wall time, spawn to exit. */
  seconds: number;
  /** Median CPU time of the child (user + system), when known. */
  cpuSeconds: number | undefined;
}

/** One command of an interleaved timing: its stdin file. */
export interface TimedCommand {
  command: string;
  args: readonly string[];
  inputFile: string;
}

/**
 * Median wall and CPU time of `runs` runs of each command (stdout discarded), interleaved: one run
 * of each, then the next round, so that a machine whose load drifts hits every command alike.
 * Throws when a run fails.
 */
export async function timeProcesses(
  commands: readonly TimedCommand[],
  runs: number,
): Promise<ProcessTiming[]> {
  const times = commands.map((): number[] => []);
  const cpuTimes = commands.map((): number[] => []);
  for (let run = 0; run < runs; run++) {
    for (const [i, { command, args, inputFile }] of commands.entries()) {
      const result = await runProcess(command, args, inputFile, 'discard');
      if (result.exitCode !== 0) {
        throw new Error(`${command} ${args.join(' ')} exited with ${result.exitCode}: ${result.stderr}`);
      }
      times[i]?.push(result.seconds);
      if (result.cpuSeconds !== undefined) cpuTimes[i]?.push(result.cpuSeconds);
    }
  }
  return commands.map((_, i) => ({
    seconds: median(times[i] as number[]),
    cpuSeconds: cpuTimes[i]?.length === runs ? median(cpuTimes[i] as number[]) : undefined,
  }));
}

/** Median wall and CPU time of `runs` runs of one command (stdout discarded). */
export async function timeProcess(
  command: string,
  args: readonly string[],
  inputFile: string,
  runs: number,
): Promise<ProcessTiming> {
  return (await timeProcesses([{ command, args, inputFile }], runs))[0] as ProcessTiming;
}

/**
 * A node process that reads stdin line by line with readline's async iterator and trims each line,
 * as explain does, and nothing else: the floor for any line-oriented node command.
 */
export const readlineFloorScript = `
import { createInterface } from 'node:readline';
let count = 0;
for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
  if (line.trim() !== '') count++;
}
process.stderr.write(String(count) + '\\n');
`;

/**
 * One run of `node [--import preload] script explain -` on `inputFile` under the timeline preload
 * (bench/lib/explain-timeline.ts, built next to this file): the marks it recorded, one per stdin
 * chunk. Throws when the run fails.
 */
export async function explainTimeline(script: string, inputFile: string): Promise<TimelineMark[]> {
  const dir = mkdtempSync(join(tmpdir(), 'pathwarden-timeline-'));
  try {
    const file = join(dir, 'marks.json');
    const preload = new URL('explain-timeline.js', import.meta.url).href;
    const result = await runProcess(
      process.execPath,
      ['--import', preload, script, 'explain', '-'],
      inputFile,
      'discard',
      { ...process.env, PATHWARDEN_TIMELINE_FILE: file },
    );
    if (result.exitCode !== 0) throw new Error(`explain - exited with ${result.exitCode}: ${result.stderr}`);
    return JSON.parse(readFileSync(file, 'utf8')) as TimelineMark[];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Per block of lines: the differences of the first marks at or past each boundary (ms). */
export interface TimelineBlock {
  from: number;
  to: number;
  wallMs: number;
  mainCpuMs: number;
  processCpuMs: number;
}

/**
 * Splits one run's marks at the first mark at or past each boundary (a chunk holds a few thousand
 * lines, so blocks end on the chunk boundary after the nominal one). The first block starts at the
 * first chunk's arrival: what comes before is start-up.
 */
export function timelineBlocks(
  marks: readonly TimelineMark[],
  boundaries: readonly number[],
): TimelineBlock[] {
  const blocks: TimelineBlock[] = [];
  let previous = marks[0];
  if (previous === undefined) return blocks;
  for (const boundary of boundaries) {
    const next = marks.find((mark) => mark[0] >= boundary) ?? marks[marks.length - 1];
    if (next === undefined || next[0] <= previous[0]) continue;
    blocks.push({
      from: previous[0],
      to: next[0],
      wallMs: next[1] - previous[1],
      mainCpuMs: next[2] - previous[2],
      processCpuMs: next[3] - previous[3],
    });
    previous = next;
  }
  return blocks;
}
