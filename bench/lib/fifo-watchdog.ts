// The watchdog of `bench:gateway --fifo`: a small process of its own, started before any priority is
// changed and run under SCHED_FIFO at WATCHDOG_PRIORITY, above the measured processes
// (MEASURED_PRIORITY), so that the kernel runs it as soon as it wakes however those spin. It only
// sleeps until its deadline (the wrk line's length plus a margin); then, or at once when the
// benchmark's end of its stdin closes without a "done" line (the benchmark died), it sets every
// real-time thread of the watched processes and their descendants back to SCHED_OTHER, kills the
// processes whose threads it cannot set back, reports what it did on stdout and exits. A "done"
// line ends it without touching anything. The incident it answers (docs/performance.md, "`--fifo`
// with the DuckDB gateway starved the machine"): the gateway spun at priority 10 on both cores for
// ten minutes, and the benchmark, at the same priority, never ran again to set it back.
//
// Run as a script: `chrt -f 20 node dist/bench/lib/fifo-watchdog.js --after MS [--chrt PATH] [PID...]`
// writes `armed` on stdout once it listens, reads lines `watch PID` and `done` on stdin, and writes
// one JSON line (WatchdogResult) on stdout when it ends. startFifoWatchdog() does all of that.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  CHRT,
  MEASURED_PRIORITY,
  processTree,
  SCHED_FIFO,
  SCHED_RR,
  setFifo,
  threadPolicy,
  threadScheduling,
  threadsOf,
  WATCHDOG_PRIORITY,
} from './sched-fifo.js';

const SELF = fileURLToPath(import.meta.url);
/** The built script (tests run this module from its TypeScript source, which node cannot run). */
const SCRIPT = SELF.endsWith('.js')
  ? SELF
  : fileURLToPath(new URL('../../dist/bench/lib/fifo-watchdog.js', import.meta.url));

export interface WatchdogResult {
  /** Why it ended: told so (`done`), its deadline, its stdin closed (`parent-gone`), a signal. */
  acted: 'done' | 'deadline' | 'parent-gone' | 'signal';
  /** Real-time threads it found, and how many of them it set back to SCHED_OTHER. */
  found: number;
  reset: number;
  /** Processes it killed (SIGKILL) because their threads stayed real-time. */
  killed: number[];
}

export interface FifoWatchdog {
  pid: number;
  /** Watches one more process (wrk, started after the watchdog). */
  watch(pid: number): void;
  /**
   * Ends it: `done` when the benchmark set every process back itself (the watchdog then touches
   * nothing), `now` to have it set them back (or kill them) at once. Resolves with what it did,
   * also when it had acted at its deadline already.
   */
  finish(how: 'done' | 'now'): Promise<WatchdogResult>;
}

/**
 * Starts a watchdog over `pids` (and, when it acts, their descendants) that acts `afterMs` from
 * now, under SCHED_FIFO WATCHDOG_PRIORITY; resolves once it is armed and runs at that priority,
 * with undefined when it cannot (not root nor CAP_SYS_NICE, no chrt): then nothing may be put
 * under SCHED_FIFO. `chrt` is the program it sets threads back with (tests give one that fails).
 */
export async function startFifoWatchdog(options: {
  pids: readonly number[];
  afterMs: number;
  chrt?: string;
}): Promise<FifoWatchdog | undefined> {
  const args = [SCRIPT, '--after', String(Math.round(options.afterMs))];
  if (options.chrt !== undefined) args.push('--chrt', options.chrt);
  args.push(...options.pids.map(String));
  let child: ChildProcess;
  try {
    child = spawn(CHRT, ['-f', String(WATCHDOG_PRIORITY), process.execPath, ...args], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
  } catch {
    return undefined;
  }
  const lines: string[] = [];
  const waiting: (() => void)[] = [];
  // A chrt that cannot be started emits 'error' and no 'exit'.
  let failed = false;
  child.on('error', () => {
    failed = true;
    for (const wake of waiting.splice(0)) wake();
  });
  child.stdin?.on('error', () => undefined);
  let buffered = '';
  child.stdout?.on('data', (data: Buffer) => {
    buffered += data.toString();
    for (let at = buffered.indexOf('\n'); at >= 0; at = buffered.indexOf('\n')) {
      lines.push(buffered.slice(0, at));
      buffered = buffered.slice(at + 1);
    }
    for (const wake of waiting.splice(0)) wake();
  });
  // 'close', not 'exit': the report line may still be in the stdout pipe when the process exits.
  let closed = false;
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  void exited.then(() => {
    closed = true;
    for (const wake of waiting.splice(0)) wake();
  });
  const nextLine = async (index: number): Promise<string | undefined> => {
    while (lines.length <= index && !failed && !closed) await new Promise<void>((wake) => waiting.push(wake));
    return lines[index];
  };
  const armed = await nextLine(0);
  if (armed !== 'armed' || child.pid === undefined) {
    child.kill('SIGKILL');
    return undefined;
  }
  const pid = child.pid;
  let result: Promise<WatchdogResult> | undefined;
  return {
    pid,
    watch: (watched) => {
      if (child.exitCode === null) child.stdin?.write(`watch ${watched}\n`);
    },
    finish: (how) => {
      result ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          if (how === 'done') child.stdin?.write('done\n');
          child.stdin?.end();
        }
        const line = await nextLine(1);
        if (!failed) await exited;
        if (line === undefined) throw new Error(`the --fifo watchdog (pid ${pid}) ended without a report`);
        return JSON.parse(line) as WatchdogResult;
      })();
      return result;
    },
  };
}

/** The real-time threads of `pids` and their descendants, but not of this process. */
function realTimeThreads(pids: ReadonlySet<number>): Map<number, string[]> {
  const found = new Map<number, string[]>();
  for (const root of pids) {
    for (const pid of processTree(root)) {
      if (pid === process.pid || found.has(pid)) continue;
      const threads = threadsOf(pid).filter((tid) => {
        const policy = threadPolicy(pid, tid);
        return policy === SCHED_FIFO || policy === SCHED_RR;
      });
      if (threads.length > 0) found.set(pid, threads);
    }
  }
  return found;
}

/** Sets every real-time thread of `pids` (and descendants) back, kills what stays real-time. */
function act(pids: ReadonlySet<number>, chrt: string, acted: WatchdogResult['acted']): WatchdogResult {
  const before = realTimeThreads(pids);
  const found = [...before.values()].reduce((sum, threads) => sum + threads.length, 0);
  setFifo([...before.keys()], false, chrt);
  const after = realTimeThreads(new Set(before.keys()));
  const left = [...after.values()].reduce((sum, threads) => sum + threads.length, 0);
  const killed: number[] = [];
  for (const pid of after.keys()) {
    try {
      process.kill(pid, 'SIGKILL');
      killed.push(pid);
    } catch {
      // ended meanwhile
    }
  }
  return { acted, found, reset: Math.max(0, found - left), killed };
}

function main(argv: readonly string[]): void {
  let afterMs = Number.NaN;
  let chrt = CHRT;
  const pids = new Set<number>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--after') afterMs = Number(argv[++i]);
    else if (arg === '--chrt') chrt = argv[++i] as string;
    else pids.add(Number(arg));
  }
  // Refuses to watch unless it runs above the measured processes: under them it would be starved
  // like the benchmark was.
  const own = threadScheduling(process.pid, process.pid);
  if (!Number.isFinite(afterMs) || own?.policy !== SCHED_FIFO || own.priority <= MEASURED_PRIORITY) {
    process.stderr.write(
      `fifo-watchdog: not armed (needs --after MS and SCHED_FIFO above priority ${MEASURED_PRIORITY})\n`,
    );
    process.exit(2);
  }
  let ended = false;
  let timer: NodeJS.Timeout | undefined;
  // The benchmark gone, its end of stdout may be too: nothing is left to tell.
  process.stdout.on('error', () => process.exit(0));
  const end = (acted: WatchdogResult['acted']) => {
    if (ended) return;
    ended = true;
    clearTimeout(timer);
    const result: WatchdogResult =
      acted === 'done' ? { acted, found: 0, reset: 0, killed: [] } : act(pids, chrt, acted);
    if (acted !== 'done')
      process.stderr.write(
        `fifo-watchdog: ${acted}: ${result.reset} of ${result.found} real-time threads set back to SCHED_OTHER${result.killed.length > 0 ? `, killed ${result.killed.join(', ')}` : ''}\n`,
      );
    process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
  };
  timer = setTimeout(() => end('deadline'), afterMs);
  let input = '';
  let done = false;
  process.stdin.on('data', (data: Buffer) => {
    input += data.toString();
    for (let at = input.indexOf('\n'); at >= 0; at = input.indexOf('\n')) {
      const line = input.slice(0, at).trim();
      input = input.slice(at + 1);
      if (line === 'done') done = true;
      else if (line.startsWith('watch ')) pids.add(Number(line.slice(6)));
    }
  });
  process.stdin.on('end', () => end(done ? 'done' : 'parent-gone'));
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => end('signal'));
  process.stdout.write('armed\n');
}

if (process.argv[1] === SELF) main(process.argv.slice(2));
