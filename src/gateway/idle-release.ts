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
import { setFlagsFromString } from 'node:v8';
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
 * Two full collections: the first (after a quiet spell, so V8 sees a low allocation rate) shrinks
 * the young generation and marks the old one; the second frees what the first left to sweep.
 */
export function collectAllGarbage(): void {
  const gc = garbageCollector();
  gc();
  gc();
}

/** The watch's decisions, apart from the clock (tests drive it with their own samples). */
export class IdleReleaseWatch {
  readonly #options: Pick<IdleReleaseOptions, 'quietMs' | 'quietShare' | 'workMs'>;
  #lastAt: number;
  #lastCpuUs: number;
  #quietSince: number;
  #workUs = 0;

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
    if (running || !watch.sample(Date.now(), cpu())) return;
    running = true;
    (async () => {
      collectAllGarbage();
      await options.release();
    })()
      .catch((error: unknown) => options.onError?.(error))
      .finally(() => {
        running = false;
        // The release's own CPU is not work to release after.
        watch.sample(Date.now(), cpu());
      });
  }, 1000);
  timer.unref();
  return () => clearInterval(timer);
}
