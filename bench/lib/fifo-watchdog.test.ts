// The --fifo watchdog on harmless processes: `sleep` (and a shell waiting for one) put under
// SCHED_FIFO priority 10, which use no CPU; the watchdog, at priority 20, must set them back to
// SCHED_OTHER at its deadline, at once when its stdin closes without "done", and kill them when
// they cannot be set back; "done" leaves them alone. Needs root (or CAP_SYS_NICE) and the built
// script (npm run build: dist/bench/lib/fifo-watchdog.js); skipped otherwise. Every process is
// killed at the end of its test.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, test } from 'vitest';
import { type FifoWatchdog, startFifoWatchdog } from './fifo-watchdog.js';
import {
  CHRT,
  MEASURED_PRIORITY,
  processTree,
  SCHED_FIFO,
  SCHED_OTHER,
  setFifo,
  threadScheduling,
  WATCHDOG_PRIORITY,
} from './sched-fifo.js';

const built = fileURLToPath(new URL('../../dist/bench/lib/fifo-watchdog.js', import.meta.url));
const runnable = process.getuid?.() === 0 && existsSync(CHRT) && existsSync(built);

const started: ChildProcess[] = [];
afterEach(() => {
  for (const child of started.splice(0)) {
    if (child.pid !== undefined) setFifo(processTree(child.pid), false);
    child.kill('SIGKILL');
  }
});

/** `command` under SCHED_FIFO MEASURED_PRIORITY (via chrt, which execs it: same pid). */
async function underFifo(...command: string[]): Promise<ChildProcess & { pid: number }> {
  const child = spawn(CHRT, ['-f', String(MEASURED_PRIORITY), ...command], { stdio: 'ignore' });
  started.push(child);
  await new Promise((resolve) => child.once('spawn', resolve));
  // chrt sets the policy, then execs the command: wait until the command runs.
  for (let i = 0; i < 200 && policyOf(child.pid as number) !== SCHED_FIFO; i++)
    await new Promise((resolve) => setTimeout(resolve, 5));
  expect(policyOf(child.pid as number)).toBe(SCHED_FIFO);
  return child as ChildProcess & { pid: number };
}

const policyOf = (pid: number) => threadScheduling(pid, pid)?.policy;
const exitOf = (child: ChildProcess) =>
  new Promise<NodeJS.Signals | number | null>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.signalCode ?? child.exitCode);
    else child.once('exit', (code, signal) => resolve(signal ?? code));
  });

/** Waits (bounded: `ms`) until `ok()`; false when it never was. */
async function until(ok: () => boolean, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; ) {
    if (ok()) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return ok();
}

describe.skipIf(!runnable)('bench:gateway --fifo watchdog', () => {
  const watchdogs: FifoWatchdog[] = [];
  afterEach(async () => {
    for (const watchdog of watchdogs.splice(0)) await watchdog.finish('done').catch(() => undefined);
  });
  const watchdogOver = async (options: Parameters<typeof startFifoWatchdog>[0]) => {
    const watchdog = await startFifoWatchdog(options);
    expect(watchdog).toBeDefined();
    watchdogs.push(watchdog as FifoWatchdog);
    return watchdog as FifoWatchdog;
  };

  test('runs above the measured processes and sets them back, descendants included, at its deadline', async () => {
    // A shell under SCHED_FIFO with a sleep it started (which inherits the policy).
    const shell = await underFifo('/bin/sh', '-c', 'sleep 30 & wait');
    let tree: number[] = [];
    await until(() => {
      tree = processTree(shell.pid);
      return tree.length === 2;
    }, 2000);
    const sleeper = tree[1] as number;
    expect(policyOf(sleeper)).toBe(SCHED_FIFO);
    const started = Date.now();
    const watchdog = await watchdogOver({ pids: [shell.pid], afterMs: 600 });
    expect(threadScheduling(watchdog.pid, watchdog.pid)).toEqual({
      policy: SCHED_FIFO,
      priority: WATCHDOG_PRIORITY,
    });
    expect(
      await until(() => policyOf(shell.pid) === SCHED_OTHER && policyOf(sleeper) === SCHED_OTHER, 10_000),
    ).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(550);
    // Asked after its deadline, it reports what it did then.
    expect(await watchdog.finish('done')).toEqual({ acted: 'deadline', found: 2, reset: 2, killed: [] });
  }, 30_000);

  test('"done" ends it and leaves the processes alone', async () => {
    const sleeper = await underFifo('sleep', '30');
    const watchdog = await watchdogOver({ pids: [sleeper.pid], afterMs: 30_000 });
    expect(await watchdog.finish('done')).toEqual({ acted: 'done', found: 0, reset: 0, killed: [] });
    expect(policyOf(sleeper.pid)).toBe(SCHED_FIFO);
  }, 30_000);

  test('its stdin closed without "done" (the benchmark gone), it acts at once, on processes watched later too', async () => {
    const sleeper = await underFifo('sleep', '30');
    const watchdog = await watchdogOver({ pids: [], afterMs: 30_000 });
    const later = await underFifo('sleep', '30');
    watchdog.watch(sleeper.pid);
    watchdog.watch(later.pid);
    const asked = Date.now();
    expect(await watchdog.finish('now')).toEqual({ acted: 'parent-gone', found: 2, reset: 2, killed: [] });
    expect(Date.now() - asked).toBeLessThan(5000);
    expect([policyOf(sleeper.pid), policyOf(later.pid)]).toEqual([SCHED_OTHER, SCHED_OTHER]);
  }, 30_000);

  test('kills a process whose threads it cannot set back', async () => {
    const sleeper = await underFifo('sleep', '30');
    const exit = exitOf(sleeper);
    // A "chrt" that fails: the thread stays under SCHED_FIFO.
    const watchdog = await watchdogOver({ pids: [sleeper.pid], afterMs: 300, chrt: '/bin/false' });
    const timeout = new Promise((resolve) => setTimeout(() => resolve('still running'), 10_000).unref());
    expect(await Promise.race([exit, timeout])).toBe('SIGKILL');
    expect(await watchdog.finish('done')).toEqual({
      acted: 'deadline',
      found: 1,
      reset: 0,
      killed: [sleeper.pid],
    });
  }, 30_000);

  test('refuses to arm unless it runs under SCHED_FIFO above the measured processes', async () => {
    const plain = spawn(process.execPath, [built, '--after', '100'], { stdio: 'ignore' });
    started.push(plain);
    expect(await exitOf(plain)).toBe(2);
    const level = spawn(CHRT, ['-f', String(MEASURED_PRIORITY), process.execPath, built, '--after', '100'], {
      stdio: 'ignore',
    });
    started.push(level);
    expect(await exitOf(level)).toBe(2);
  }, 30_000);
});
