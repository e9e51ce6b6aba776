// The write side of the DuckDB and JSONL stores: each record is encoded in append() (its JSONL line,
// its DuckDB row values) and a batch is written from those, DuckDB's in slices between which the
// event loop runs. Odd strings must still be stored, and a record changed after append() must not be.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
