// The write side of the DuckDB and JSONL stores: each record is encoded in append() (its JSONL line,
// its DuckDB row values) and a batch is written from those, DuckDB's in slices between which the
// event loop runs. Odd strings must still be stored, and a record changed after append() must not be.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBAppender, DuckDBInstance, DuckDBPreparedStatement } from '@duckdb/node-api';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { emptyFlow, type FlowRecord } from '../flow/record.js';
import { type ColumnValue, flowColumns, storedValuesOf } from './columns.js';
import { columnJson, openDuckDbFlowStore } from './duckdb.js';
import { type FlowStore, openFlowStore } from './store.js';

const quietLog = { info: () => undefined, warn: () => undefined, error: () => undefined };

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

describe.each(['json', 'appender'] as const)('duckdb store (%s ingest)', (ingest) => {
  test('a batch of several statements (or Appender flushes) and a partial slice is stored whole, once, in order, and the event loop runs during it', async () => {
    // 4,999 rows: two INSERTs (Appender flushes) of 2,048 rows, then one of 903 rows, the
    // Appender's last slice short of 128 rows.
    const store = await openDuckDbFlowStore(join(dir, 'many.duckdb'), 60_000, {}, ingest);
    expect(store.ingest).toBe(ingest);
    const count = 4999;
    for (let i = 0; i < count; i++) store.append({ ...flow(`h${i}.example`, 10_000 + i), bytesUp: i });
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 0);
    // The Appender's flushes: one per 2,048 rows and one for the rest (closeSync would flush the
    // rest too, in the same turn as the commit's start: the count tells them apart). The INSERT's
    // runs: one per 2,048 rows and one for the rest.
    const flushSync = DuckDBAppender.prototype.flushSync;
    const run = DuckDBPreparedStatement.prototype.run;
    let flushes = 0;
    let runs = 0;
    DuckDBAppender.prototype.flushSync = function (this: DuckDBAppender) {
      flushes++;
      return flushSync.call(this);
    };
    DuckDBPreparedStatement.prototype.run = function (this: DuckDBPreparedStatement) {
      runs++;
      return run.call(this);
    };
    try {
      await store.flush();
    } finally {
      DuckDBAppender.prototype.flushSync = flushSync;
      DuckDBPreparedStatement.prototype.run = run;
      clearInterval(ticker);
    }
    expect([flushes, runs]).toEqual(ingest === 'json' ? [0, 3] : [3, 0]);
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

  test('a batch whose second statement fails leaves none of its rows; the retry stores each once', async () => {
    // The statements of one batch share one transaction: all of it or nothing.
    const failures: number[] = [];
    const store = await openDuckDbFlowStore(
      join(dir, 'atomic.duckdb'),
      60_000,
      {
        observer: {
          storeWriteFailed: () => failures.push(-1),
          storeFlowsDropped: (count) => failures.push(count),
          storeFlowsBuffered: () => undefined,
        },
        log: quietLog,
      },
      ingest,
    );
    const count = 3000;
    for (let i = 0; i < count; i++) store.append({ ...flow(`h${i}.example`, 10_000 + i), bytesUp: i });
    const flushSync = DuckDBAppender.prototype.flushSync;
    const run = DuckDBPreparedStatement.prototype.run;
    let calls = 0;
    DuckDBAppender.prototype.flushSync = function (this: DuckDBAppender) {
      if (++calls === 2) throw new Error('injected failure of the second flush');
      return flushSync.call(this);
    };
    DuckDBPreparedStatement.prototype.run = function (this: DuckDBPreparedStatement) {
      if (++calls === 2) return Promise.reject(new Error('injected failure of the second INSERT'));
      return run.call(this);
    };
    try {
      await store.flush();
    } finally {
      DuckDBAppender.prototype.flushSync = flushSync;
      DuckDBPreparedStatement.prototype.run = run;
    }
    expect(calls).toBe(2);
    expect(failures).toEqual([-1]);
    // The retry writes the whole batch again: had its first statement stayed in the file, its
    // rows would be there twice.
    await store.flush();
    const rows = await readFlows(store, join(dir, 'atomic.duckdb'));
    expect(rows.map((row) => Number(row[0]))).toEqual(Array.from({ length: count }, (_, i) => i + 1));
  });
});

describe('duckdb store: JSON columns into one INSERT', () => {
  // Every column goes through JSON.stringify and DuckDB's JSON reader: what comes back must be what
  // went in, and exactly what the Appender stores.
  const controls = Array.from({ length: 32 }, (_, code) => String.fromCharCode(code)).join('');
  const odd = [
    'quote " and \\" and \\\\ and \\u0041 and \\ud800 (escaped text, not escapes)',
    `controls ${controls} NUL \u0000 DEL \u007f`,
    'non-ASCII: é ß Ж 日本語 😀 \u2028 \u2029 \ufeff BOM',
    // DuckDB's JSON reader drops a leading BOM: such rows go through the Appender.
    '\ufeff at the start',
    `http://api.powerbi.com/${'x'.repeat(100_000)}`,
    'fe80::1%eth0',
    '[2001:db8::2%25en0]:8443',
    '',
    'lone \ud800 and \udfff',
  ];
  const numbers = [2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 62, 2 ** 63 - 1024, -(2 ** 63), 0, -0, 1];
  const doubles = [0.1 + 0.2, 1e-300, 5e-324, -0, 1.7976931348623157e308, 1e21, 1234.5678, 1 / 3];
  /** Every string column holds odd text, every number an edge; record 3 has nulls in every nullable column. */
  function oddFlow(index: number): FlowRecord {
    if (index % 4 === 3)
      return { ...emptyFlow({} as FlowRecord['origin']), actualPath: null } as unknown as FlowRecord;
    const text = (shift: number) => odd[(index + shift) % odd.length] as string;
    return {
      start: doubles[index % doubles.length] as number,
      end: doubles[(index + 1) % doubles.length] as number,
      origin: {
        kind: text(0),
        file: text(1),
        line: numbers[index % numbers.length],
      } as unknown as FlowRecord['origin'],
      client: '2001:db8::1',
      host: text(2),
      sni: text(3),
      httpHost: `[2001:db8::2]:${8000 + index}`,
      destination: 'fe80::1%eth0',
      port: index % 2 === 0 ? 65535 : 0,
      protocol: text(4),
      component: text(5) as FlowRecord['component'],
      bytesUp: numbers[index % numbers.length] as number,
      bytesDown: numbers[(index + 3) % numbers.length] as number,
      sourceAddress: '::ffff:192.0.2.1',
      upstream: text(6),
      connectionId: text(7),
      actualPath: text(8) as FlowRecord['actualPath'],
      actualPathEvidence: text(0),
      expectedPath: text(1) as FlowRecord['expectedPath'],
      verdict: text(2) as FlowRecord['verdict'],
      ruleId: text(3),
      reason: text(4),
      egressPath: text(5) as FlowRecord['egressPath'],
      outcome: text(6) as FlowRecord['outcome'],
      error: `${text(7)}${index}`,
      connectMs: doubles[(index + 2) % doubles.length] as number,
    } as FlowRecord;
  }

  test('odd strings, IPv6 addresses with zones, edge numbers and nulls in every column are stored exactly as the Appender stores them', async () => {
    const count = 40;
    const files: unknown[][][] = [];
    for (const ingest of ['json', 'appender'] as const) {
      const path = join(dir, `${ingest}.duckdb`);
      const dropped: number[] = [];
      const store = await openDuckDbFlowStore(
        path,
        60_000,
        {
          observer: {
            storeWriteFailed: () => dropped.push(-1),
            storeFlowsDropped: (lost) => dropped.push(lost),
            storeFlowsBuffered: () => undefined,
          },
          gateway: 'gw-\u0000-\ufeff',
        },
        ingest,
      );
      expect(store.ingest).toBe(ingest);
      for (let index = 0; index < count; index++) store.append(oddFlow(index));
      await store.flush();
      expect(dropped).toEqual([]);
      files.push(await readFlows(store, path, true));
    }
    const [json, appender] = files as [unknown[][], unknown[][]];
    expect(json).toHaveLength(count);
    const width = flowColumns.length;
    for (let row = 0; row < count; row++) {
      // Against the input: each column's value as the store encodes it (coerced, a lone surrogate
      // as U+FFFD), strings compared as their UTF-8 bytes (hex() in DuckDB: node-api's reader drops a
      // leading BOM), BIGINTs as bigint, -0 apart from 0.
      const expected = storedValuesOf(oddFlow(row), row + 1, 'gw-\u0000-\ufeff');
      const stored = json[row] as unknown[];
      for (let column = 0; column < width; column++) {
        const value = expected[column] ?? null;
        const type = flowColumns[column]?.sqlType;
        const want =
          value === null
            ? null
            : type === 'VARCHAR'
              ? Buffer.from((value as string & { toWellFormed(): string }).toWellFormed())
                  .toString('hex')
                  .toUpperCase()
              : type === 'BIGINT'
                ? BigInt(value)
                : value;
        const got = type === 'VARCHAR' ? stored[width + column] : stored[column];
        expect(
          Object.is(got, want),
          `row ${row}, ${flowColumns[column]?.name}: ${String(got).slice(0, 60)} against ${String(want).slice(0, 60)}`,
        ).toBe(true);
      }
      // And exactly as the Appender stored it, every column.
      for (let column = 0; column < (appender[row] as unknown[]).length; column++)
        expect(
          Object.is(stored[column], (appender[row] as unknown[])[column]),
          `row ${row}, column ${column} against the Appender's`,
        ).toBe(true);
    }
    // Row 3 has nulls in every column that takes one (append() sets the origin's kind and the
    // actual path; the gateway column is never null); the 100,000-character string is in row 4.
    expect((json[3] as unknown[]).slice(1, width).filter((value) => value !== null)).toEqual([
      'gateway',
      'unknown',
      'gw-\u0000-\ufeff',
    ]);
    expect(json.some((row) => (row as unknown[]).some((value) => String(value).length === 100_023))).toBe(
      true,
    );
  });

  test('a BIGINT beyond 2^53 is stored as the integer the Appender stores', () => {
    const id = flowColumns.findIndex((column) => column.name === 'bytes_up');
    const rows = [2 ** 63 - 1024, 2 ** 53 + 2, null, -0].map((value) => {
      const row = new Array<ColumnValue>(flowColumns.length).fill(null);
      row[id] = value;
      return row;
    });
    expect(columnJson(rows, 0, 4, id)).toBe('[9223372036854774784,9007199254740994,null,0]');
    expect(JSON.parse(columnJson(rows, 1, 1, id) as string)).toEqual([2 ** 53 + 2]);
  });

  test('without the json extension (the INSERT fails to prepare) the store warns once and appends with the Appender', async () => {
    const warnings: unknown[] = [];
    const log = { ...quietLog, warn: (fields: unknown) => warnings.push(fields) };
    const path = join(dir, 'fallback.duckdb');
    const store = await openDuckDbFlowStore(
      path,
      60_000,
      { log },
      'json',
      `INSERT INTO flows SELECT * FROM no_json_reader_here($1)`,
    );
    expect(store.ingest).toBe('appender');
    expect(warnings).toEqual([expect.objectContaining({ code: 'PW_ERR_STORE_IO', store: 'duckdb' })]);
    for (let i = 0; i < 10; i++) store.append(flow(`h${i}.example`, 1000 + i));
    await store.flush();
    const rows = await readFlows(store, path);
    expect(rows.map((row) => Number(row[0]))).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    expect(warnings).toHaveLength(1);
  });
});

/**
 * Closes `store` and reads every row of its file, by id, as DuckDB returns them; with `bytes`,
 * followed by hex() of every column (the VARCHARs' UTF-8 bytes).
 */
async function readFlows(store: FlowStore, path: string, bytes = false): Promise<unknown[][]> {
  await store.close();
  const instance = await DuckDBInstance.create(path, { access_mode: 'READ_ONLY' });
  try {
    const connection = await instance.connect();
    const hex = bytes ? `, ${flowColumns.map((column) => `hex(${column.name})`).join(', ')}` : '';
    const reader = await connection.runAndReadAll(`SELECT *${hex} FROM flows ORDER BY id`);
    connection.closeSync();
    return reader.getRows() as unknown[][];
  } finally {
    instance.closeSync();
  }
}
