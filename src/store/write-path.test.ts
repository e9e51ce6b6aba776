// The write side of the DuckDB and JSONL stores: each record is encoded in append() (its JSONL line,
// its DuckDB row values) and a batch is written from those, DuckDB's in slices between which the
// event loop runs. Odd strings must still be stored, and a record changed after append() must not be.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBAppender } from '@duckdb/node-api';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { emptyFlow, type FlowRecord } from '../flow/record.js';
import { type FlowStore, openFlowStore } from './store.js';

function flow(host: string, start: number): FlowRecord {
  return {
    ...emptyFlow({ kind: 'gateway' }),
    start,
    end: start + 5,
    host,
    port: 443,
    bytesUp: 1,
    bytesDown: 2,
    reason: 'a reason with "quotes", a backslash \\ and a newline\n',
  };
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pw-write-path-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe.each(['duckdb', 'jsonl'] as const)('%s store', (kind) => {
  async function open(): Promise<FlowStore> {
    return openFlowStore({ kind, path: join(dir, `flows.${kind}`), flushIntervalMs: 60_000 });
  }

  test('a lone UTF-16 surrogate does not fail the batch; its neighbours are stored as given', async () => {
    const dropped: number[] = [];
    const store = await openFlowStore(
      { kind, path: join(dir, `flows.${kind}`), flushIntervalMs: 60_000 },
      {
        observer: {
          storeWriteFailed: () => dropped.push(-1),
          storeFlowsDropped: (count) => dropped.push(count),
          storeFlowsBuffered: () => undefined,
        },
      },
    );
    store.append(flow('a\ud800b.example', 1000));
    store.append(flow('x\udc00.example', 2000));
    store.append(flow('ok-😀-é.example', 3000));
    await store.flush();
    const page = await store.query({ limit: 10 });
    await store.close();
    expect(dropped).toEqual([]);
    expect(page.flows.map((stored) => stored.host)).toEqual([
      'ok-😀-é.example',
      kind === 'duckdb' ? 'x\ufffd.example' : 'x\udc00.example',
      kind === 'duckdb' ? 'a\ufffdb.example' : 'a\ud800b.example',
    ]);
    expect(page.flows[0]?.reason).toBe('a reason with "quotes", a backslash \\ and a newline\n');
  });

  test('a record changed after append() is stored as it was when appended', async () => {
    const store = await open();
    const record = flow('before.example', 1000);
    store.append(record);
    record.host = 'after.example';
    record.bytesUp = 999;
    const page = await store.query({});
    await store.close();
    expect(page.flows).toHaveLength(1);
    expect(page.flows[0]?.host).toBe('before.example');
    expect(page.flows[0]?.bytesUp).toBe(1);
  });
});

describe('jsonl store: lines encoded into shared blocks', () => {
  test('records across many blocks, and one longer than a block, are stored whole and in order', async () => {
    const store = await openFlowStore({
      kind: 'jsonl',
      path: join(dir, 'flows.jsonl'),
      flushIntervalMs: 60_000,
    });
    const hosts: string[] = [];
    for (let i = 0; i < 1200; i++) {
      const host = `h${i}-${'é😀§'.repeat(i % 40)}.example`;
      hosts.push(host);
      store.append({ ...flow(host, 1000 + i), reason: `${'r'.repeat(i % 900)} § ${i}` });
      if (i === 600) {
        hosts.push('big.example');
        store.append({ ...flow('big.example', 1000 + i), reason: '→'.repeat(300_000) });
      }
      if (i % 500 === 0) await store.flush();
    }
    await store.close();
    const stored = readFileSync(join(dir, 'flows.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { host: string; reason: string });
    expect(stored.map((record) => record.host)).toEqual(hosts);
    expect(stored.find((record) => record.host === 'big.example')?.reason).toBe('→'.repeat(300_000));
    expect(stored.find((record) => record.host.startsWith('h77-'))?.reason).toBe(`${'r'.repeat(77)} § 77`);
  });
});

test('duckdb store: a number beyond a BIGINT column is stored as null and its batch is kept', async () => {
  // Audited logs are untrusted input. Before, the Appender refused such a value, which failed the
  // whole batch, and after the retries its other records were dropped.
  const failures: number[] = [];
  const store = await openFlowStore(
    { kind: 'duckdb', path: join(dir, 'big.duckdb'), flushIntervalMs: 60_000 },
    {
      observer: {
        storeWriteFailed: () => failures.push(-1),
        storeFlowsDropped: (count) => failures.push(count),
        storeFlowsBuffered: () => undefined,
      },
    },
  );
  store.append(flow('small.example', 1000));
  store.append({ ...flow('big.example', 2000), bytesUp: 1e20, bytesDown: -1e19 });
  store.append({ ...flow('edge.example', 3000), bytesUp: 2 ** 63, bytesDown: -(2 ** 63) });
  store.append({ ...flow('far.example', 1e300), end: 1e300 });
  const page = await store.query({});
  await store.close();
  expect(failures).toEqual([]);
  expect(page.total).toBe(4);
  const byHost = new Map(page.flows.map((stored) => [stored.host, [stored.bytesUp, stored.bytesDown]]));
  expect(byHost.get('small.example')).toEqual([1, 2]);
  expect(byHost.get('big.example')).toEqual([null, null]);
  // -2^63 is the least BIGINT; 2^63 is one past the greatest.
  expect(byHost.get('edge.example')).toEqual([null, -(2 ** 63)]);
  expect(byHost.has('far.example')).toBe(true);
});

test('duckdb store: a batch of several Appender flushes and a partial slice is stored whole, once, in order, and the event loop runs during it', async () => {
  // 4,999 rows: two flushes of 2,048 rows, then 903 rows flushed at the end of the batch, the last
  // slice short of 128 rows.
  const store = await openFlowStore({
    kind: 'duckdb',
    path: join(dir, 'many.duckdb'),
    flushIntervalMs: 60_000,
  });
  const count = 4999;
  for (let i = 0; i < count; i++) store.append({ ...flow(`h${i}.example`, 10_000 + i), bytesUp: i });
  let ticks = 0;
  const ticker = setInterval(() => ticks++, 0);
  // The Appender's flushes: one per 2,048 rows and one for the rest (closeSync would flush the
  // rest too, in the same turn as the commit's start: the count tells them apart).
  const flushSync = DuckDBAppender.prototype.flushSync;
  let flushes = 0;
  DuckDBAppender.prototype.flushSync = function (this: DuckDBAppender) {
    flushes++;
    return flushSync.call(this);
  };
  try {
    await store.flush();
  } finally {
    DuckDBAppender.prototype.flushSync = flushSync;
    clearInterval(ticker);
  }
  expect(flushes).toBe(3);
  const seen: number[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await store.query({ limit: 1000, ...(cursor ? { cursor } : {}) });
    expect(page.total).toBe(count);
    for (const stored of page.flows) seen.push(stored.bytesUp as number);
    if (page.next === null) break;
    cursor = page.next;
  }
  await store.close();
  // Newest first: bytesUp count-1 down to 0, every record once with its own id order.
  expect(seen).toEqual(Array.from({ length: count }, (_, i) => count - 1 - i));
  expect(ticks).toBeGreaterThan(5);
});
