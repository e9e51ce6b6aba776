// Lowers the CPU priority of the threads a library starts for its own background work (DuckDB's
// task scheduler), so that on a busy machine the proxy's event loop gets a core before them. On
// Linux a nice value belongs to a thread: setpriority(PRIO_PROCESS, tid) changes that thread only,
// and Node's os.setPriority(pid, value) passes its pid argument straight to it. Elsewhere, or when
// /proc cannot be read, nothing is changed.

import { readdirSync, readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { setPriority } from 'node:os';
import { describeError, type StoreLog } from './buffer.js';

/** The ids of this process's threads now (/proc/self/task); empty where /proc has none. */
export function threadIds(): Set<number> {
  try {
    return new Set(readdirSync('/proc/self/task').map(Number));
  } catch {
    return new Set();
  }
}

/** A thread's nice value (field 19 of /proc/self/task/TID/stat); undefined once it has ended. */
export function threadNice(tid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    // The fields after the command name, which is in parentheses and may hold spaces: state is 3.
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
  } catch {
    return undefined;
  }
}

/**
 * Runs `start` (which starts a library's threads) and returns what it returns, with the threads that
 * appeared meanwhile. libuv's thread pool is started first (it starts all its threads at its first
 * piece of work, and `start` may be such work), so that the new threads are the library's own.
 */
export async function withNewThreads<T>(
  warmUpPath: string,
  start: () => Promise<T>,
): Promise<{ value: T; started: number[] }> {
  await stat(warmUpPath).catch(() => undefined);
  const before = threadIds();
  const value = await start();
  const started = [...threadIds()].filter((tid) => !before.has(tid));
  return { value, started };
}

/**
 * Sets each of `tids` to `nice` (0-19: only lowering, which needs no privilege). Never throws: a
 * thread that cannot be changed is logged once per call, with the reason, and the rest go on.
 * Returns the threads changed.
 */
export function lowerThreadPriority(
  tids: readonly number[],
  nice: number,
  log: StoreLog,
  what: string,
): number[] {
  const lowered: number[] = [];
  let failure: string | undefined;
  for (const tid of tids) {
    try {
      setPriority(tid, nice);
      lowered.push(tid);
    } catch (error) {
      // ESRCH: the thread ended meanwhile; anything else (a seccomp filter, a platform without
      // per-thread priorities) is reported once.
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') failure ??= describeError(error);
    }
  }
  if (failure !== undefined)
    log.warn(
      { code: 'PW_ERR_STORE_IO', threads: tids, nice, err: failure },
      `could not lower the priority of ${what}; they run at the proxy's priority`,
    );
  return lowered;
}
