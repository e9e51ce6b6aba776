// Gives memory back once the gateway has gone quiet after work. Under load the process grows three
// pools that it does not shrink by itself while idle tunnels or nothing at all keep it busy: V8's
// young generation (grown to two 16 MiB semi-spaces; V8 shrinks it only at a collection after about
// 5 s of low allocation), the old generation's garbage promoted during the load (collected at the next
// full collection, which an idle process may not reach for minutes), and the free memory the C
// allocators keep (glibc's arenas for Node's own allocations, DuckDB's jemalloc arenas). Measured
// after 16 s of `wrk -c50` and a 256 MiB tunnel: 234 MB RSS, of it 28 MB new space holding 7 MB,
// 32 MB of jemalloc pages holding no data, and glibc arenas with 21 MB free (docs/performance.md,
// Gateway, "Idle memory, session 6").
//
// The watch is the process's own CPU time, sampled once a second: nothing on the request or relay
// path counts anything for it. After at least `workMs` of CPU since the last release, once the
// process has used less than `quietShare` of a core for `quietMs`, it runs `release` once.
import { cpuUsage } from 'node:process';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export interface IdleReleaseOptions {
  /** How long the process must stay quiet, ms (V8 shrinks new space only after ~5 s of low allocation). */
  quietMs: number;
  /** Share of one core below which a sample counts as quiet. */
  quietShare: number;
  /** CPU ms the process must have used since the last release before another one is worth it. */
  workMs: number;
  /** What to give back (the store's memory); the garbage collection runs first. */
  release: () => Promise<void>;
  /** Called when `release` throws (it should not); the watch goes on. */
  onError?: (error: unknown) => void;
}

export const defaultIdleRelease = { quietMs: 6000, quietShare: 0.02, workMs: 500 } as const;

type Collect = () => void;
let collect: Collect | undefined;

/**
 * V8's full collection as a function. Node exposes none without `--expose-gc` on its command line;
 * the flag set at run time installs `gc` in contexts made after it, so a fresh context hands it over.
 * Every later context and worker thread gets `gc` too; the gateway makes none, and one that runs
 * untrusted code (say, a PAC sandbox) would have to delete it.
 */
function garbageCollector(): Collect {
  if (collect === undefined) {
    setFlagsFromString('--expose-gc');
    collect = runInNewContext('gc') as Collect;
  }
  return collect;
}

/**
 * Two full collections: the first (after a quiet spell, so V8 may see a low allocation rate) can
 * shrink the young generation and marks the old one; the second frees what the first left to sweep.
 * Not compacting: `--compact-on-every-full-gc` for the first one returned 5-15 MB more old space
 * after 9,000 tunnels, but made its pause 1.1-1.7 s instead of 0.1-0.8 s on a loaded machine, and a
 * connection that arrives then waits for it (docs/performance.md, Gateway, "Tunnels and idle
 * memory, session 9").
 */
export function collectAllGarbage(): void {
  const gc = garbageCollector();
  gc();
  gc();
}

/** One full collection: the follow-up's, which shrinks a young generation the release left grown. */
export function collectGarbageOnce(): void {
  garbageCollector()();
}

/** The young generation is still grown: above 8 MiB committed (it starts at 1-4 MiB; grown, 16-34 MiB). */
export function youngGenerationGrown(): boolean {
  const space = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
  return space !== undefined && space.space_size > 8 * 1024 * 1024;
}

/** The watch's decisions, apart from the clock (tests drive it with their own samples). */
export class IdleReleaseWatch {
  readonly #options: Pick<IdleReleaseOptions, 'quietMs' | 'quietShare' | 'workMs'>;
  #lastAt: number;
  #lastCpuUs: number;
  #quietSince: number;
  #workUs = 0;
  /** When the last release ended, until its follow-up collection ran (undefined: none pending). */
  #releasedAt: number | undefined;

  constructor(
    options: Pick<IdleReleaseOptions, 'quietMs' | 'quietShare' | 'workMs'>,
    now: number,
    cpuUs: number,
  ) {
    this.#options = options;
    this.#lastAt = now;
    this.#lastCpuUs = cpuUs;
    this.#quietSince = now;
  }

  /** One sample; true when the memory should be given back now. */
  sample(now: number, cpuUs: number): boolean {
    const usedUs = cpuUs - this.#lastCpuUs;
    const elapsedMs = now - this.#lastAt;
    this.#lastAt = now;
    this.#lastCpuUs = cpuUs;
    if (elapsedMs <= 0) return false;
    if (usedUs / 1000 / elapsedMs > this.#options.quietShare) {
      this.#quietSince = now;
      this.#workUs += usedUs;
      return false;
    }
    if (this.#workUs < this.#options.workMs * 1000 || now - this.#quietSince < this.#options.quietMs)
      return false;
    this.#workUs = 0;
    return true;
  }

  /**
   * CPU the watch's own collections used: neither work to release after nor a break in the quiet
   * spell. (Counted as a sample, a release of more than `workMs` counted as work to release after,
   * so it ran again `quietMs` later with nothing new to give back.)
   */
  skip(now: number, cpuUs: number): void {
    this.#lastAt = now;
    this.#lastCpuUs = cpuUs;
  }

  /** The release ended (its own CPU was skipped): a follow-up collection is due `quietMs` later. */
  released(now: number): void {
    this.#releasedAt = now;
  }

  /**
   * True once, when the process has stayed quiet for `quietMs` since the last release ended: the
   * young generation is shrunk only by a collection that sees a low allocation rate over V8's last
   * ~5 s, which the release's own collection does not always see (the new space still held what the
   * tunnels' handshakes allocated just before the quiet spell: measured, 33.6 MB committed kept).
   * A busy sample in between postpones it to 6 s after the busy spell.
   */
  followUpDue(now: number): boolean {
    if (this.#releasedAt === undefined) return false;
    const quietFrom = Math.max(this.#releasedAt, this.#quietSince);
    if (now - quietFrom < this.#options.quietMs) return false;
    this.#releasedAt = undefined;
    return true;
  }
}

/** Starts the watch (an unref'd one-second timer); returns its stop. */
export function startIdleRelease(options: IdleReleaseOptions): () => void {
  const cpu = () => {
    const used = cpuUsage();
    return used.user + used.system;
  };
  const watch = new IdleReleaseWatch(options, Date.now(), cpu());
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    if (!watch.sample(Date.now(), cpu())) {
      if (!watch.followUpDue(Date.now()) || !youngGenerationGrown()) return;
      collectGarbageOnce();
      watch.skip(Date.now(), cpu());
      return;
    }
    running = true;
    (async () => {
      collectAllGarbage();
      await options.release();
    })()
      .catch((error: unknown) => options.onError?.(error))
      .finally(() => {
        running = false;
        // The release's own CPU is not work to release after.
        watch.skip(Date.now(), cpu());
        watch.released(Date.now());
      });
  }, 1000);
  timer.unref();
  return () => clearInterval(timer);
}
