import { describe, expect, test } from 'vitest';
import { emptyFlow, type FlowRecord } from '../flow/record.js';
import { loadFlows } from './load.js';
import type { FlowStore } from './store.js';

/** A store that writes one batch at a time, each taking a few ms, and records the largest buffer. */
function slowStore(withBuffered: boolean) {
  let buffer: FlowRecord[] = [];
  let writing: Promise<void> = Promise.resolve();
  const stats = { written: 0, batches: 0, maxBuffered: 0, flushes: 0 };
  const write = () => {
    writing = writing.then(async () => {
      const batch = buffer;
      buffer = [];
      if (batch.length === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 3));
      stats.written += batch.length;
      stats.batches++;
    });
    return writing;
  };
  const store: FlowStore = {
    kind: 'slow',
    append(flow) {
      buffer.push(flow);
      stats.maxBuffered = Math.max(stats.maxBuffered, buffer.length);
      if (buffer.length === 100) void write();
    },
    flush() {
      stats.flushes++;
      return write();
    },
    query: () => Promise.reject(new Error('not used')),
    stats: () => Promise.reject(new Error('not used')),
    close: () => writing,
  };
  if (withBuffered) Object.defineProperty(store, 'buffered', { get: () => buffer.length });
  return { store, stats };
}

function* flows(count: number): Generator<FlowRecord> {
  for (let index = 0; index < count; index++) yield { ...emptyFlow({ kind: 'gateway' }), start: index };
}

describe('loadFlows', () => {
  test('keeps appending while a batch is written, waits only beyond highWater, and writes every record', async () => {
    const { store, stats } = slowStore(true);
    const progress: number[] = [];
    const count = await loadFlows(store, flows(5000), {
      highWater: 300,
      yieldEvery: 50,
      progress: (done) => progress.push(done),
    });
    expect(count).toBe(5000);
    expect(stats.written).toBe(5000);
    // Bounded: at most highWater plus one yieldEvery of records wait in the store.
    expect(stats.maxBuffered).toBeLessThan(350);
    // Batches grew while one was being written instead of one flush per yield.
    expect(stats.batches).toBeLessThan(5000 / 50);
    expect(stats.flushes).toBe(1);
    expect(progress.at(-1)).toBe(5000);
  });

  test('a store that does not say what it buffers is written out at every yield', async () => {
    const { store, stats } = slowStore(false);
    expect(await loadFlows(store, flows(1000), { yieldEvery: 100 })).toBe(1000);
    expect(stats.written).toBe(1000);
    expect(stats.flushes).toBe(11);
  });
});
