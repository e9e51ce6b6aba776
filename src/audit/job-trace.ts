// A timeline of `audit --jobs N` for measuring where each thread's time goes
// (PATHWARDEN_JOBS_TRACE=1: printed to stderr when the audit ends; docs/performance.md, "`--jobs`,
// session 9"). Each mark is the wall time (ms since the main thread's process started, from
// performance.timeOrigin, which workers share through their own clock's origin) and the marking
// thread's own CPU time (ms, from /proc/thread-self/stat where there is one).
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { isMainThread, threadId } from 'node:worker_threads';

export interface TraceMark {
  thread: number;
  what: string;
  /** performance.timeOrigin + performance.now(): comparable across threads. */
  at: number;
  cpu: number | null;
}

export const tracing = process.env.PATHWARDEN_JOBS_TRACE === '1';

const marks: TraceMark[] = [];

/** The calling thread's user + system CPU time in ms (10 ms ticks), or null off Linux. */
function threadCpu(): number | null {
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return null;
  }
}

/** Notes a step of this thread (nothing unless tracing). */
export function mark(what: string): void {
  if (tracing)
    marks.push({ thread: threadId, what, at: performance.timeOrigin + performance.now(), cpu: threadCpu() });
}

/** This thread's marks so far, removed (a worker sends them with its result). */
export function takeMarks(): TraceMark[] {
  return marks.splice(0);
}

/** Adds marks another thread sent. */
export function addMarks(more: readonly TraceMark[] | undefined): void {
  if (tracing && more) marks.push(...more);
}

/** Prints every mark, in time order, to stderr (main thread, when tracing). */
export function printMarks(): void {
  if (!tracing || !isMainThread) return;
  const origin = performance.timeOrigin;
  const lines = marks
    .splice(0)
    .sort((a, b) => a.at - b.at)
    .map(
      (m) =>
        `jobs-trace ${(m.at - origin).toFixed(1).padStart(8)} ms  thread ${m.thread}  cpu ${String(m.cpu ?? '-').padStart(5)} ms  ${m.what}`,
    );
  // CPU per live thread of the process (a finished worker's is gone: its last mark has it).
  try {
    for (const task of readdirSync('/proc/self/task')) {
      const stat = readFileSync(`/proc/self/task/${task}/stat`, 'latin1');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cpu = (Number(fields[11]) + Number(fields[12])) * 10;
      if (cpu > 0) lines.push(`jobs-trace task ${task} ${name}: cpu ${cpu} ms`);
    }
  } catch {
    // Not Linux.
  }
  process.stderr.write(`${lines.join('\n')}\n`);
}
