// DuckDB's own threads run below the proxy's priority when the store is opened with backgroundNice
// (the gateway's setting): read back from /proc, thread by thread.
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { emptyFlow } from '../flow/record.js';
import type { StoreLog } from './buffer.js';
import { type DuckDbFlowStore, openDuckDbFlowStore } from './duckdb.js';
import { lowerThreadPriority, threadIds, threadNice } from './thread-priority.js';

const linux = process.platform === 'linux';
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pw-thread-priority-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function collectingLog(): StoreLog & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    warn: (details, message) => lines.push(`${message} ${JSON.stringify(details)}`),
    error: (details, message) => lines.push(`${message} ${JSON.stringify(details)}`),
  };
}

const nices = () => new Map([...threadIds()].map((tid) => [tid, threadNice(tid)]));

test.runIf(linux)("backgroundNice lowers DuckDB's own threads, and only them", async () => {
  const log = collectingLog();
  const before = nices();
  const base = threadNice(process.pid) ?? 0;
  const store: DuckDbFlowStore = await openDuckDbFlowStore(join(dir, 'flows.duckdb'), 60_000, {
    backgroundNice: 10,
    log,
  });
  try {
    expect(log.lines).toEqual([]);
    // DuckDB starts one worker per core beyond the calling thread.
    if (availableParallelism() > 1) expect(store.backgroundThreads.length).toBeGreaterThan(0);
    for (const tid of store.backgroundThreads) {
      expect(before.has(tid)).toBe(false);
      expect(threadNice(tid)).toBe(Math.min(19, base + 10));
    }
    // Every thread that was there before (the event loop, libuv's pool, V8's) keeps its priority.
    for (const [tid, nice] of before) {
      const now = threadNice(tid);
      if (now !== undefined) expect(now).toBe(nice);
    }
    // The store still works with its threads lowered.
    store.append({ ...emptyFlow({ kind: 'gateway' }), start: 1000, end: 1005, host: 'a.example' });
    expect((await store.query({})).total).toBe(1);
  } finally {
    await store.close();
  }
});

test.runIf(linux)('without backgroundNice no thread changes priority', async () => {
  const store = await openDuckDbFlowStore(join(dir, 'flows.duckdb'), 60_000, { log: collectingLog() });
  try {
    expect(store.backgroundThreads).toEqual([]);
    const base = threadNice(process.pid);
    expect([...nices().values()].every((nice) => nice === undefined || nice === base)).toBe(true);
  } finally {
    await store.close();
  }
});

test.runIf(linux)('a priority that cannot be set is logged once and never thrown', () => {
  const log = collectingLog();
  // 42 is out of range (os.setPriority throws), and a thread id that does not exist is skipped.
  const lowered = lowerThreadPriority([process.pid, 2 ** 22 + 7], 42, log, 'test threads');
  expect(lowered).toEqual([]);
  expect(log.lines).toHaveLength(1);
  expect(log.lines[0]).toContain('could not lower the priority of test threads');
  expect(threadNice(process.pid)).not.toBe(42);
});
