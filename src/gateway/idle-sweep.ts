// One timer for the idle timeout of every open tunnel, instead of a socket timer on each side of each
// tunnel. A socket timer is re-armed on every chunk read or written (per-chunk work on the relay's
// hot path) and costs two Timeout objects per tunnel (a heap profile of 2,000 idle tunnels,
// docs/performance.md). The sweep instead compares each tunnel's byte count with the one it saw
// last: a tunnel whose count has not moved for `idleMs` is told so. It is closed between `idleMs`
// and `idleMs` plus one sweep period (a tenth of `idleMs`, at least 250 ms) after its last byte.

/** What the sweep watches: bytes moved so far (any direction) and what to do once idle. */
export interface IdleWatched {
  bytesMoved(): number;
  onIdle(): void;
}

interface Seen {
  bytes: number;
  since: number;
}

export class IdleSweep {
  readonly idleMs: number;
  readonly periodMs: number;
  readonly #watched = new Map<IdleWatched, Seen>();
  #timer: NodeJS.Timeout | undefined;

  constructor(idleMs: number) {
    this.idleMs = idleMs;
    this.periodMs = Math.max(250, Math.floor(idleMs / 10));
  }

  get size(): number {
    return this.#watched.size;
  }

  add(watched: IdleWatched): void {
    this.#watched.set(watched, { bytes: watched.bytesMoved(), since: Date.now() });
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.sweep(Date.now()), this.periodMs);
      // A sweep never keeps a process alive that is otherwise done.
      this.#timer.unref();
    }
  }

  delete(watched: IdleWatched): void {
    this.#watched.delete(watched);
    if (this.#watched.size === 0) this.stop();
  }

  /** One pass (the timer calls it; tests may call it with their own clock). */
  sweep(now: number): void {
    const idle: IdleWatched[] = [];
    for (const [watched, seen] of this.#watched) {
      const bytes = watched.bytesMoved();
      if (bytes !== seen.bytes) {
        seen.bytes = bytes;
        seen.since = now;
      } else if (now - seen.since >= this.idleMs) {
        idle.push(watched);
      }
    }
    for (const watched of idle) {
      this.#watched.delete(watched);
      watched.onIdle();
    }
    if (this.#watched.size === 0) this.stop();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
