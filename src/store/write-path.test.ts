// The write side of the DuckDB and JSONL stores: each record is encoded in append() (its JSONL line,
// its DuckDB row values) and a batch is written from those, DuckDB's as JSON columns of one INSERT
// (or, without the json extension, through the Appender in slices). Odd strings must still be
// stored exactly, and a record changed after append() must not be.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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

describe('duckdb store: JSON columns into one INSERT', () => {
  // Every string column goes through JSON.stringify and DuckDB's JSON reader: what comes back must
  // be what went in, exactly as through the Appender.
  const odd = [
    'quote " and \\" and \\\\ and \\u0041 and \\ud800 (escaped text, not escapes)',
    `controls ${Array.from({ length: 32 }, (_, code) => String.fromCharCode(code)).join('')} DEL \u007f`,
    'non-ASCII: é ß Ж 日本語 😀 \u2028 \u2029 \ufeff',
    `http://api.powerbi.com/${'a/b?c=d&e="f"'.repeat(8000)}`,
  ];
  function oddFlow(index: number): FlowRecord {
    const text = odd[index % odd.length] as string;
    return {
      ...flow(`h${index}.example`, 1000 + index),
      client: '2001:db8::1',
      destination: 'fe80::1%eth0',
      sourceAddress: '::1',
      httpHost: `[2001:db8::2]:${8000 + index}`,
      reason: text,
      error: `${text}${index}`,
      connectionId: text.slice(0, 40),
      sni: `${index}:${text}`,
      bytesUp: Number.MAX_SAFE_INTEGER - index,
      bytesDown: 0,
      connectMs: 0.1 + index / 3,
    };
  }

  test.each(['json', 'appender'] as const)(
    '%s: odd strings, IPv6 addresses and large numbers round-trip',
    async (ingest) => {
      const { openDuckDbFlowStore } = await import('./duckdb.js');
      const dropped: number[] = [];
      const store = await openDuckDbFlowStore(
        join(dir, `${ingest}.duckdb`),
        60_000,
        {
          observer: {
            storeWriteFailed: () => dropped.push(-1),
            storeFlowsDropped: (count) => dropped.push(count),
            storeFlowsBuffered: () => undefined,
          },
        },
        ingest,
      );
      expect(store.ingest).toBe(ingest);
      const count = 12;
      for (let index = 0; index < count; index++) store.append(oddFlow(index));
      const page = await store.query({ limit: count });
      await store.close();
      expect(dropped).toEqual([]);
      const byHost = new Map(page.flows.map((stored) => [stored.host, stored]));
      for (let index = 0; index < count; index++) {
        const expected = oddFlow(index);
        const stored = byHost.get(`h${index}.example`);
        expect(stored, `flow ${index}`).toMatchObject({
          client: expected.client,
          destination: expected.destination,
          sourceAddress: expected.sourceAddress,
          httpHost: expected.httpHost,
          reason: expected.reason,
          error: expected.error,
          connectionId: expected.connectionId,
          bytesUp: expected.bytesUp,
          bytesDown: 0,
          connectMs: expected.connectMs,
          start: expected.start,
          port: 443,
          sni: expected.sni,
          upstream: null,
        });
      }
    },
  );
});

test('duckdb store (json ingest): a number beyond BIGINT is stored as null and its batch is kept', async () => {
  // The Appender fails the whole batch on such a value (and drops it after the retries); DuckDB's
  // from_json makes it null. Audited logs are untrusted input.
  const { openDuckDbFlowStore } = await import('./duckdb.js');
  const failures: number[] = [];
  const store = await openDuckDbFlowStore(join(dir, 'big.duckdb'), 60_000, {
    observer: {
      storeWriteFailed: () => failures.push(-1),
      storeFlowsDropped: (count) => failures.push(count),
      storeFlowsBuffered: () => undefined,
    },
  });
  store.append(flow('small.example', 1000));
  store.append({ ...flow('big.example', 2000), bytesUp: 1e20, bytesDown: -1e19 });
  const page = await store.query({});
  await store.close();
  expect(failures).toEqual([]);
  expect(page.flows.map((stored) => [stored.host, stored.bytesUp, stored.bytesDown])).toEqual([
    ['big.example', null, null],
    ['small.example', 1, 2],
  ]);
});

test('duckdb store (json ingest): a batch larger than one INSERT is stored whole and in order', async () => {
  const { openDuckDbFlowStore } = await import('./duckdb.js');
  const path = join(dir, 'large.duckdb');
  const store = await openDuckDbFlowStore(path, 60_000);
  const count = 5000;
  for (let index = 0; index < count; index++) store.append(flow(`h${index}.example`, 1000 + index));
  await store.flush();
  await store.close();
  // Read the file directly: every id once, in append order in the table, each with its own host.
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const instance = await DuckDBInstance.create(path, { access_mode: 'READ_ONLY' });
  try {
    const connection = await instance.connect();
    const reader = await connection.runAndReadAll(
      `SELECT count(*)::INTEGER, count(DISTINCT id)::INTEGER, bool_and(id = rowid + 1),
              bool_and(host = 'h' || (id - 1) || '.example') FROM flows`,
    );
    connection.closeSync();
    expect(reader.getRows()[0]).toEqual([count, count, true, true]);
  } finally {
    instance.closeSync();
  }
});
