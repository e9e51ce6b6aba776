// Bulk loading through the store interface: appends as fast as the store writes, with memory bounded.
// A store writes one batch at a time while append() keeps buffering, so the next batch builds up while
// the current one is written. A loader that awaited flush() every few thousand records would leave the
// store idle while it appends and itself idle while the store writes; this one only yields to the
// event loop (so writes progress), and waits only while the store holds more than `highWater` records.
import type { FlowRecord } from '../flow/record.js';
import type { FlowStore } from './store.js';

export interface FlowLoaderOptions {
  /** Records buffered in the store beyond which append waits (default 65,536; below maxBuffered). */
  highWater?: number;
  /** Records appended between two yields to the event loop (default 4,096). */
  yieldEvery?: number;
}

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

export class FlowLoader {
  readonly #store: FlowStore;
  readonly #highWater: number;
  readonly #yieldEvery: number;
  #appended = 0;

  constructor(store: FlowStore, options: FlowLoaderOptions = {}) {
    this.#store = store;
    this.#highWater = options.highWater ?? 65_536;
    this.#yieldEvery = options.yieldEvery ?? 4096;
  }

  get appended(): number {
    return this.#appended;
  }

  /**
   * Appends one record. Every `yieldEvery` records it returns a promise to await before the next
   * append: the turn writes take, and the wait while the store is behind.
   */
  append(flow: FlowRecord): Promise<void> | undefined {
    this.#store.append(flow);
    return ++this.#appended % this.#yieldEvery === 0 ? this.#pace() : undefined;
  }

  /** Writes what is still buffered. */
  finish(): Promise<void> {
    return this.#store.flush();
  }

  async #pace(): Promise<void> {
    // A store that does not say how much it buffers is written out every yieldEvery records.
    if (this.#store.buffered === undefined) return this.#store.flush();
    await nextTurn();
    while ((this.#store.buffered ?? 0) >= this.#highWater) await pause(1);
  }
}

/** Appends every record of `flows` through a FlowLoader and writes the rest; returns the count. */
export async function loadFlows(
  store: FlowStore,
  flows: Iterable<FlowRecord>,
  options: FlowLoaderOptions & { progress?: (appended: number) => void } = {},
): Promise<number> {
  const loader = new FlowLoader(store, options);
  for (const flow of flows) {
    const wait = loader.append(flow);
    if (wait) {
      await wait;
      options.progress?.(loader.appended);
    }
  }
  await loader.finish();
  return loader.appended;
}
