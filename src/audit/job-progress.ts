// The progress bar of `audit --jobs`: bytes read and flows counted by every thread that reads a
// part, while it reads. This thread's part is read here (readAll's own progress state, polled);
// a worker copies its state into a SharedArrayBuffer sent with its item, on a timer (its event
// loop turns between chunks). The bar names the threads that actually read, and reaches the
// inputs' size once every part is read. Before this, it named every thread started (a worker
// given no share included), counted no flow until a part was done, and stopped short of 100 %.
import type { AuditProgress, ProgressState } from './run-audit.js';

/** Doubles per part in a worker's shared progress: bytes read, flows counted. */
const SHARED_DOUBLES = 2;
/** How often a worker copies its progress into the shared memory (the bar redraws every 200 ms). */
const COPY_MS = 100;

/** One part's progress as the bar reads it. */
interface PartState {
  /** Bytes of the part (its range), counted whole once it is done. */
  bytes: number;
  /** Bytes read and flows counted so far; null before the part starts. */
  live: (() => { bytes: number; flows: number }) | null;
  /** Flows of the part once it is done (its result); null while it is read. */
  flows: number | null;
}

export class JobProgress {
  readonly #parts: PartState[] = [];

  constructor(
    readonly progress: AuditProgress | undefined,
    /** What is read: the input's name, or `N parts`. */
    readonly what: string,
    readonly total: number | null,
    /** Threads at most (several parts may go to one thread in turn: runWorkers). */
    readonly maxThreads = Number.POSITIVE_INFINITY,
  ) {
    this.#show();
  }

  /**
   * A part read on this thread: pass `progress` to readAll (AuditOptions.progress); `done` takes
   * its flows and its bytes (its range may have shrunk since: splitLate).
   */
  local(bytes: number): { progress: AuditProgress; done: (flows: number, bytes: number) => void } {
    const part: PartState = { bytes, live: null, flows: null };
    this.#add(part);
    let state: ProgressState | undefined;
    part.live = () => ({ bytes: state?.bytesRead() ?? 0, flows: state?.flows() ?? 0 });
    return {
      progress: {
        update: (next) => {
          state = next;
        },
        stop: () => undefined,
      },
      done: (flows, read) => {
        part.flows = flows;
        part.bytes = read;
      },
    };
  }

  /** A part read on a worker: send `shared` with its item (JobItem.progress); `done` as local()'s. */
  remote(bytes: number): { shared: SharedArrayBuffer; done: (flows: number, bytes: number) => void } {
    const shared = new SharedArrayBuffer(SHARED_DOUBLES * Float64Array.BYTES_PER_ELEMENT);
    const values = new Float64Array(shared);
    const part: PartState = {
      bytes,
      live: () => ({ bytes: values[0] as number, flows: values[1] as number }),
      flows: null,
    };
    this.#add(part);
    return {
      shared,
      done: (flows, read) => {
        part.flows = flows;
        part.bytes = read;
      },
    };
  }

  /** Threads reading or done reading a part. */
  get threads(): number {
    return Math.min(this.#parts.length, this.maxThreads);
  }

  /** Bytes read by every thread (a part that is done counts whole). */
  bytesRead(): number {
    let sum = 0;
    for (const part of this.#parts)
      sum += part.flows !== null ? part.bytes : Math.min(part.bytes, part.live?.().bytes ?? 0);
    return sum;
  }

  /** Flows counted by every thread. */
  flows(): number {
    let sum = 0;
    for (const part of this.#parts) sum += part.flows ?? part.live?.().flows ?? 0;
    return sum;
  }

  #add(part: PartState): void {
    this.#parts.push(part);
    this.#show();
  }

  #show(): void {
    const threads = this.threads;
    this.progress?.update({
      step: 1,
      steps: 1,
      file: threads > 1 ? `${this.what} on ${threads} threads` : this.what,
      total: this.total,
      bytesRead: () => this.bytesRead(),
      flows: () => this.flows(),
    });
  }
}

/**
 * On a worker: the AuditProgress of its part, copying readAll's bytes read and flows into
 * `shared` (JobProgress.remote) every COPY_MS and when the part is read.
 */
export function sharedProgress(shared: SharedArrayBuffer): AuditProgress {
  const values = new Float64Array(shared);
  let state: ProgressState | undefined;
  let timer: NodeJS.Timeout | undefined;
  const copy = () => {
    if (state === undefined) return;
    values[0] = state.bytesRead();
    values[1] = state.flows();
  };
  return {
    update: (next) => {
      state = next;
      if (timer === undefined) {
        timer = setInterval(copy, COPY_MS);
        timer.unref();
      }
    },
    stop: () => {
      copy();
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
    },
  };
}
