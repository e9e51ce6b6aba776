// Real-time scheduling of whole processes for `bench:gateway --fifo`, thread by thread, read back
// from /proc: used by the benchmark to put the measured processes under SCHED_FIFO and back, and by
// its watchdog (fifo-watchdog.ts) to set them back when the benchmark cannot.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** util-linux: sets a running thread's scheduling policy. */
export const CHRT = '/usr/bin/chrt';
/** The priority of the measured processes (wrk, the origin, the proxy). */
export const MEASURED_PRIORITY = 10;
/** The watchdog's: above the measured processes, so it runs whenever it wakes. */
export const WATCHDOG_PRIORITY = 20;

export const SCHED_OTHER = 0;
export const SCHED_FIFO = 1;
export const SCHED_RR = 2;

/** A thread's policy (stat field 41) and real-time priority (field 40); undefined when it is gone. */
export function threadScheduling(
  pid: number,
  tid: string | number,
): { policy: number; priority: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { policy: Number(fields[38]), priority: Number(fields[37]) };
  } catch {
    return undefined;
  }
}

/** The scheduling policy of a thread (0 SCHED_OTHER, 1 SCHED_FIFO, 2 SCHED_RR); -1 when gone. */
export function threadPolicy(pid: number, tid: string | number): number {
  return threadScheduling(pid, tid)?.policy ?? -1;
}

/** The threads of a process; none when it has ended. */
export function threadsOf(pid: number): string[] {
  try {
    return readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
}

/** A process and its descendants, depth first (those that end meanwhile are left out). */
export function processTree(pid: number): number[] {
  const tree: number[] = [];
  const visit = (id: number) => {
    tree.push(id);
    for (const task of threadsOf(id)) {
      try {
        const children = readFileSync(`/proc/${id}/task/${task}/children`, 'utf8').trim();
        for (const child of children ? children.split(' ') : []) visit(Number(child));
      } catch {
        // gone meanwhile
      }
    }
  };
  visit(pid);
  return tree;
}

/**
 * Every thread of `processes` under SCHED_FIFO priority MEASURED_PRIORITY (`on`), or back under
 * SCHED_OTHER: thread by thread, then read back from /proc, again until every thread there has it
 * (a thread that ends meanwhile is skipped; one started meanwhile is caught by the next pass).
 * `chrt -a` stops at the first thread that has ended. False when the kernel refuses (root or
 * CAP_SYS_NICE is needed) or the threads do not settle in 5 passes. Back to SCHED_OTHER touches
 * only real-time threads (FIFO, RR), so a SCHED_BATCH or SCHED_IDLE thread keeps its policy.
 */
export function setFifo(processes: readonly number[], on: boolean, chrt = CHRT): boolean {
  const policy = on ? ['-f', '-p', String(MEASURED_PRIORITY)] : ['-o', '-p', '0'];
  const done = (now: number) =>
    now === -1 || (on ? now === SCHED_FIFO : now !== SCHED_FIFO && now !== SCHED_RR);
  for (let pass = 0; pass < 5; pass++) {
    let settled = true;
    for (const pid of processes) {
      for (const tid of threadsOf(pid)) {
        if (done(threadPolicy(pid, tid))) continue;
        spawnSync(chrt, [...policy, tid], { stdio: 'ignore' });
        if (!done(threadPolicy(pid, tid))) settled = false;
      }
    }
    if (settled) return true;
  }
  return false;
}
