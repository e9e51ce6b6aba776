// One contract for every flow store (like hono's common.case.test.ts): the DuckDB and JSONL stores
// must keep, filter, page, count and reopen records identically. Store-specific cases follow.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { emptyFlow, type FlowRecord } from '../flow/record.js';
import { needPeers } from '../testing/peers.js';
import { BufferedFlowStore, type FlowStoreObserver, type FlowStoreOptions, type StoreLog } from './buffer.js';
import type { JsonlFlowStore } from './jsonl.js';
import { FlowQueryError } from './query.js';
import type { FlowStore, StoredFlow } from './store.js';
import { openFlowStore } from './store.js';
import { ClickHouseTestServer } from './testing/clickhouse-server.js';

const t0 = Date.UTC(2025, 0, 15, 12, 0, 0);
const minute = 60_000;

/** A classified gateway record at `t0 + minutes`, with overrides. */
function gatewayFlow(minutes: number, overrides: Partial<FlowRecord> = {}): FlowRecord {
  return {
    ...emptyFlow({ kind: 'gateway' }),
    start: t0 + minutes * minute,
    end: t0 + minutes * minute + 250,
    client: '10.1.2.3',
    host: 'api.powerbi.com',
    sni: 'api.powerbi.com',
    destination: '20.1.2.3',
    port: 443,
    protocol: 'tls',
    component: 'saas',
    bytesUp: 100,
    bytesDown: 1000,
    sourceAddress: '127.0.0.2',
    actualPath: 'expressroute',
    actualPathEvidence: 'source 127.0.0.2',
    expectedPath: 'expressroute',
    verdict: 'ok',
    ruleId: 'paas.rest-api',
    reason: 'api.powerbi.com matches rule paas.rest-api',
    egressPath: 'expressroute',
    outcome: 'forwarded',
    error: null,
    connectMs: 1.5,
    ...overrides,
  };
}

interface Recorded {
  log: StoreLog & { lines: { level: string; details: Record<string, unknown>; message: string }[] };
  observer: FlowStoreObserver & { failed: number; dropped: number; buffered: number[] };
}

function recorder(): Recorded {
  const lines: Recorded['log']['lines'] = [];
  const observer = {
    failed: 0,
    dropped: 0,
    buffered: [] as number[],
    storeWriteFailed() {
      observer.failed++;
    },
    storeFlowsDropped(count: number) {
      observer.dropped += count;
    },
    storeFlowsBuffered(count: number) {
      observer.buffered.push(count);
    },
  };
  return {
    log: {
      lines,
      warn: (details, message) => lines.push({ level: 'warn', details, message }),
      error: (details, message) => lines.push({ level: 'error', details, message }),
    },
    observer,
  };
}

// ClickHouse runs on a clickhouse-server the contract starts (one for all its tests); each test gets
// its own database, named after its temporary folder so that a reopened store finds its records.
let clickhouse: ClickHouseTestServer | undefined;
const kinds = [
  {
    kind: 'duckdb' as const,
    config: (dir: string) => ({ kind: 'duckdb' as const, path: join(dir, 'nested', 'flows.duckdb') }),
  },
  {
    kind: 'jsonl' as const,
    config: (dir: string) => ({ kind: 'jsonl' as const, path: join(dir, 'nested', 'flows.jsonl') }),
  },
  ...(needPeers('clickhouse')
    ? [
        {
          kind: 'clickhouse' as const,
          config: (dir: string) => ({
            kind: 'clickhouse' as const,
            url: (clickhouse as ClickHouseTestServer).url,
            database: `pw_${basename(dir).replace(/[^A-Za-z0-9]/g, '_')}`,
            table: 'flows',
            spool: join(dir, 'spool'),
            createTables: true,
          }),
        },
      ]
    : []),
];

describe.each(kinds)('FlowStore contract: $kind', ({ kind, config }) => {
  let dir: string;
  let recorded: Recorded;
  const open: FlowStore[] = [];
  const openStore = async (flushIntervalMs = 50): Promise<FlowStore> => {
    const store = await openFlowStore(
      { ...config(dir), flushIntervalMs },
      { ...recorded, gateway: 'gw-test' },
    );
    open.push(store);
    return store;
  };

  if (kind === 'clickhouse') {
    beforeAll(async () => {
      clickhouse = await ClickHouseTestServer.start();
    }, 90_000);
    afterAll(async () => {
      await clickhouse?.dispose();
    }, 60_000);
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pathwarden-store-'));
    recorded = recorder();
  });

  afterEach(async () => {
    for (const store of open.splice(0)) await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('keeps every field of a record, adds increasing ids, and returns the newest first', async () => {
    const store = await openStore();
    const full = gatewayFlow(1);
    const logged: FlowRecord = {
      ...emptyFlow({ kind: 'squid', file: 'access.log', line: 17 }),
      start: t0 + 0.5,
      host: 'Content.PowerApps.com',
      actualPath: 'internet',
      actualPathEvidence: 'HIER_DIRECT/13.107.1.1',
    };
    store.append(full);
    store.append(logged);
    await store.flush();
    const page = await store.query({});
    expect(page).toMatchObject({ total: 2, offset: 0, limit: 100 });
    expect(page.flows).toEqual([
      { id: 1, ...full, gateway: 'gw-test' },
      // Unknown nullable fields read back as null; unknown non-nullable ones stay absent.
      { id: 2, ...logged, ruleId: null, egressPath: null, error: null, connectMs: null, gateway: 'gw-test' },
    ]);
    expect(page.flows[1]).not.toHaveProperty('verdict');
  });

  test('filters by host substring, component, verdict, blocked, paths, outcome and time', async () => {
    const store = await openStore();
    const flows = [
      gatewayFlow(0),
      gatewayFlow(1, {
        host: 'WABI-West-Europe-redirect.analysis.windows.net',
        sni: null,
        component: 'desktop',
      }),
      gatewayFlow(2, {
        host: 'c1.microsoft.com',
        expectedPath: 'either',
        verdict: 'exception',
        egressPath: 'internet',
        actualPath: 'internet',
      }),
      gatewayFlow(3, {
        host: '203.0.113.9',
        sni: null,
        destination: '203.0.113.9',
        expectedPath: 'unknown',
        verdict: 'unknown',
      }),
      gatewayFlow(4, { outcome: 'blocked', error: 'PW_GW_CIRCUIT_DOWN', bytesUp: 0, bytesDown: 0 }),
      gatewayFlow(5, {
        outcome: 'denied',
        component: 'mobile',
        verdict: 'not-covered',
        expectedPath: 'not-covered',
      }),
      gatewayFlow(6, { outcome: 'error' }),
      gatewayFlow(7, {
        host: null,
        sni: 'tiles.virtualearth.net',
        egressPath: 'internet',
        verdict: 'exception',
      }),
    ];
    for (const flow of flows) store.append(flow);
    const ids = async (query: Parameters<FlowStore['query']>[0]) =>
      (await store.query(query)).flows.map((flow) => flow.id).sort((a, b) => a - b);
    expect(await ids({ host: 'WEST-europe' })).toEqual([2]);
    expect(await ids({ host: 'virtualearth' })).toEqual([8]);
    expect(await ids({ host: '203.0.113' })).toEqual([4]);
    expect(await ids({ host: '20.1.2.3' })).toEqual([1, 2, 3, 5, 6, 7, 8]);
    expect(await ids({ component: 'desktop' })).toEqual([2]);
    expect(await ids({ verdict: 'exception' })).toEqual([3, 8]);
    expect(await ids({ verdict: 'blocked' })).toEqual([5, 6, 7]);
    expect(await ids({ expectedPath: 'either' })).toEqual([3]);
    expect(await ids({ egressPath: 'internet' })).toEqual([3, 8]);
    expect(await ids({ outcome: 'denied' })).toEqual([6]);
    expect(await ids({ from: t0 + 2 * minute, to: t0 + 4 * minute })).toEqual([3, 4]);
    expect(await ids({ from: t0 + 6 * minute })).toEqual([7, 8]);
    expect(await ids({ to: t0 + minute })).toEqual([1]);
    expect(await ids({ verdict: 'blocked', component: 'mobile', host: 'api.' })).toEqual([6]);
    expect(await ids({ host: 'no-such-host' })).toEqual([]);
    expect(await ids({ gateway: 'gw-test', verdict: 'exception' })).toEqual([3, 8]);
    expect(await ids({ gateway: "other'gw" })).toEqual([]);
    expect((await store.stats({ gateway: 'gw-test' })).flows).toBe(8);
    expect((await store.stats({ gateway: 'other' })).byGateway).toEqual({});
  });

  test('pages newest first with the total of all matches', async () => {
    const store = await openStore();
    for (let index = 0; index < 25; index++) store.append(gatewayFlow(index));
    // A flow without any time sorts after every timed one.
    store.append({ ...gatewayFlow(0), start: null, end: null });
    const page = await store.query({ limit: 10, offset: 10 });
    expect(page).toMatchObject({ total: 26, offset: 10, limit: 10 });
    expect(page.flows.map((flow) => flow.id)).toEqual([15, 14, 13, 12, 11, 10, 9, 8, 7, 6]);
    const last = await store.query({ limit: 3, offset: 24 });
    expect(last.flows.map((flow) => flow.id)).toEqual([1, 26]);
    const beyond = await store.query({ limit: 5, offset: 26 });
    expect(beyond).toMatchObject({ total: 26, offset: 26, flows: [], next: null });
    const countOnly = await store.query({ limit: 0 });
    expect(countOnly).toMatchObject({ total: 26, flows: [] });
    expect((await store.query({ limit: 1000 })).flows).toHaveLength(26);
  });

  test('cursor pages walk the same order as one big page, across ties on time', async () => {
    const store = await openStore();
    // Three flows per minute (ties on time), one flow with only an end time, two without a time.
    for (let index = 0; index < 24; index++) {
      store.append(gatewayFlow(Math.floor(index / 3), { verdict: index % 4 === 0 ? 'leak' : 'ok' }));
    }
    store.append({ ...gatewayFlow(0), start: null, end: t0 + 3 * minute + 1 });
    store.append({ ...gatewayFlow(0), start: null, end: null });
    store.append({ ...gatewayFlow(0), start: null, end: null, verdict: 'leak' });
    for (const filter of [{}, { verdict: 'leak' as const }, { from: t0 + minute, to: t0 + 5 * minute }]) {
      const all = await store.query({ ...filter, limit: 1000 });
      expect(all.next).toBeNull();
      for (const limit of [1, 3, 4, 7]) {
        const walked: number[] = [];
        let cursor: string | undefined;
        for (let pages = 0; pages < 100; pages++) {
          const page = await store.query({ ...filter, limit, ...(cursor ? { cursor } : {}) });
          expect(page.total, JSON.stringify(filter)).toBe(all.total);
          expect(page.flows.length).toBeLessThanOrEqual(limit);
          walked.push(...page.flows.map((flow) => flow.id));
          if (page.next === null) break;
          expect(page.flows).toHaveLength(limit);
          cursor = page.next;
        }
        expect(walked, `${JSON.stringify(filter)} by ${limit}`).toEqual(all.flows.map((flow) => flow.id));
      }
    }
    // Ties: the three flows of minute 5 are ids 18, 17, 16 (newest id first); a page ending inside
    // the tie continues inside it.
    const full = (await store.query({ limit: 1000 })).flows.map((flow) => flow.id);
    expect(full.slice(0, 8)).toEqual([24, 23, 22, 21, 20, 19, 18, 17]);
    expect(full.slice(-2)).toEqual([27, 26]);
    expect(full.slice(full.indexOf(13), full.indexOf(13) + 3)).toEqual([13, 25, 12]);
    const first = await store.query({ limit: 7 });
    const second = await store.query({ limit: 2, cursor: first.next as string });
    expect(second.flows.map((flow) => flow.id)).toEqual([17, 16]);
  });

  test('rejects a cursor that is not one, and a cursor with an offset', async () => {
    const store = await openStore();
    store.append(gatewayFlow(0));
    store.append(gatewayFlow(1));
    const { next } = await store.query({ limit: 1 });
    expect(next).toEqual(expect.any(String));
    const cursors = [
      'not a cursor',
      Buffer.from('[1,2]').toString('base64url'),
      Buffer.from('{"time":1}').toString('base64url'),
      Buffer.from('[1.5,2,"g"]').toString('base64url'),
      Buffer.from('[1,-2,"g"]').toString('base64url'),
      Buffer.from('[1,2,3]').toString('base64url'),
      'x'.repeat(2000),
    ];
    for (const cursor of cursors) {
      const error = await store.query({ cursor }).catch((caught: unknown) => caught);
      expect(error, cursor).toBeInstanceOf(FlowQueryError);
      expect((error as FlowQueryError).field).toBe('cursor');
    }
    const error = await store.query({ cursor: next as string, offset: 1 }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ field: 'cursor' });
  });

  test('rejects invalid queries naming the field', async () => {
    const store = await openStore();
    const cases: [Parameters<FlowStore['query']>[0], string][] = [
      [{ limit: 1001 }, 'limit'],
      [{ limit: -1 }, 'limit'],
      [{ limit: 2.5 }, 'limit'],
      [{ offset: -3 }, 'offset'],
      [{ component: 'phone' }, 'component'],
      [{ verdict: 'fine' as never }, 'verdict'],
      [{ expectedPath: 'sideways' }, 'expectedPath'],
      [{ egressPath: 'either' as never }, 'egressPath'],
      [{ outcome: 'lost' as never }, 'outcome'],
      [{ from: Number.NaN }, 'from'],
      [{ from: 10, to: 10 }, 'to'],
      [{ host: '' }, 'host'],
    ];
    for (const [query, field] of cases) {
      const error = await store.query(query).catch((caught: unknown) => caught);
      expect(error, JSON.stringify(query)).toBeInstanceOf(FlowQueryError);
      expect((error as FlowQueryError).code).toBe('PW_ERR_QUERY_INVALID');
      expect((error as FlowQueryError).field).toBe(field);
    }
    await expect(store.stats({ from: 0, to: 3_600_000, bucketMs: 100 })).rejects.toMatchObject({
      field: 'bucketMs',
    });
    await expect(store.stats({ from: 0, to: 1000 * 20_000, bucketMs: 1000 })).rejects.toMatchObject({
      code: 'PW_ERR_QUERY_INVALID',
      field: 'bucketMs',
    });
  });

  test('counts flows by verdict, path and outcome, with bytes and a series per path and bucket', async () => {
    const store = await openStore();
    store.append(gatewayFlow(0));
    store.append(gatewayFlow(0.5, { bytesUp: 10, bytesDown: 20 }));
    store.append(gatewayFlow(1, { egressPath: 'internet', verdict: 'exception', bytesUp: 1, bytesDown: 2 }));
    store.append(
      gatewayFlow(2, {
        outcome: 'blocked',
        egressPath: null,
        actualPath: 'unknown',
        bytesUp: null,
        bytesDown: null,
      }),
    );
    store.append({
      ...emptyFlow({ kind: 'zeek-conn', file: 'conn.log', line: 3 }),
      start: t0 + 2 * minute,
      actualPath: 'internet',
      bytesUp: 5,
      bytesDown: 5,
    });
    store.append(gatewayFlow(90)); // outside the range below
    const stats = await store.stats({ from: t0, to: t0 + 60 * minute, bucketMs: minute });
    expect(stats).toEqual({
      flows: 5,
      bytesUp: 116,
      bytesDown: 1027,
      byVerdict: { ok: 3, exception: 1, none: 1 },
      byEgressPath: {
        expressroute: { flows: 2, bytesUp: 110, bytesDown: 1020 },
        internet: { flows: 2, bytesUp: 6, bytesDown: 7 },
        unknown: { flows: 1, bytesUp: 0, bytesDown: 0 },
      },
      byOutcome: { forwarded: 3, blocked: 1, none: 1 },
      byGateway: { 'gw-test': { flows: 5, bytesUp: 116, bytesDown: 1027 } },
      series: {
        bucketMs: minute,
        points: [
          { t: t0, path: 'expressroute', flows: 2, bytes: 1130 },
          { t: t0 + minute, path: 'internet', flows: 1, bytes: 3 },
          { t: t0 + 2 * minute, path: 'internet', flows: 1, bytes: 10 },
          { t: t0 + 2 * minute, path: 'unknown', flows: 1, bytes: 0 },
        ],
      },
    });
    // Buckets are chosen from the range (one hour -> 15 s, at most 240 points) or from the data.
    expect((await store.stats({ from: t0, to: t0 + 60 * minute })).series.bucketMs).toBe(15_000);
    const all = await store.stats();
    expect(all.flows).toBe(6);
    expect(all.series.bucketMs).toBe(30_000);
    expect((await store.stats({ from: t0 + 1000 * minute })).flows).toBe(0);
    // Totals only (the live ticks): the same counts, no series.
    const totals = await store.stats({ series: false });
    expect(totals.series.points).toEqual([]);
    expect({ ...totals, series: all.series }).toEqual(all);
  });

  test('groups flows per rule and destination', async () => {
    const store = await openStore();
    store.append(gatewayFlow(0, { verdict: 'exception', ruleId: 'saas.cdn', host: 'content.powerapps.com' }));
    store.append(
      gatewayFlow(1, { verdict: 'exception', ruleId: 'saas.cdn', host: 'content.powerapps.com', bytesUp: 1 }),
    );
    store.append(
      gatewayFlow(2, { verdict: 'exception', ruleId: 'saas.maps', host: null, sni: 'dev.virtualearth.net' }),
    );
    store.append(gatewayFlow(3));
    const groups = await store.groups?.({ verdict: 'exception', limit: 1 });
    expect(groups).toEqual([
      {
        ruleId: 'saas.cdn',
        host: 'content.powerapps.com',
        flows: 2,
        bytesUp: 101,
        bytesDown: 2000,
        lastSeen: t0 + minute,
      },
      {
        ruleId: 'saas.maps',
        host: 'dev.virtualearth.net',
        flows: 1,
        bytesUp: 100,
        bytesDown: 1000,
        lastSeen: t0 + 2 * minute,
      },
    ]);
  });

  test('queries see records appended before them (they flush first)', async () => {
    const store = await openStore(60_000);
    store.append(gatewayFlow(0));
    expect((await store.query({})).total).toBe(1);
    expect((await store.stats()).flows).toBe(1);
  });

  test('the timer writes buffered records without flush()', async () => {
    await openStore(50);
    const store = open[0] as FlowStore;
    store.append(gatewayFlow(0));
    expect(recorded.observer.buffered.at(-1)).toBe(1);
    await expect.poll(() => recorded.observer.buffered.at(-1), { timeout: 2000, interval: 20 }).toBe(0);
    expect(recorded.observer.failed).toBe(0);
  });

  test('a reopened store keeps the older records and appends after them', async () => {
    const first = await openStore();
    first.append(gatewayFlow(0));
    first.append(gatewayFlow(1));
    await first.close();
    const second = await openStore();
    second.append(gatewayFlow(2));
    const page = await second.query({});
    expect(page.total).toBe(3);
    expect(page.flows.map((flow) => flow.id)).toEqual([3, 2, 1]);
  });

  test('append() never throws: after close() records are dropped, counted and logged once', async () => {
    const store = await openStore();
    await store.close();
    await store.close(); // idempotent
    expect(() => store.append(gatewayFlow(0))).not.toThrow();
    expect(() => store.append({} as FlowRecord)).not.toThrow();
    expect(recorded.observer.dropped).toBe(2);
    expect(recorded.log.lines.filter((line) => line.details.code === 'PW_ERR_STORE_IO')).toHaveLength(1);
    await expect(store.query({})).rejects.toMatchObject({ code: 'PW_ERR_STORE_IO' });
  });

  test('odd values from untrusted records become null instead of failing a batch', async () => {
    const store = await openStore();
    store.append({
      ...gatewayFlow(0),
      port: 70000,
      bytesUp: Number.NaN,
      host: 42 as never,
      start: 'soon' as never,
    });
    const [flow] = (await store.query({})).flows as [StoredFlow];
    expect(flow).toMatchObject({ port: null, bytesUp: null, host: null, start: null, end: t0 + 250 });
    expect(recorded.observer.failed).toBe(0);
  });
});

describe('JSONL store files', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pathwarden-jsonl-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('reports lines that are not records with their line numbers, skips them, and opens', async () => {
    const path = join(dir, 'flows.jsonl');
    const good = (id: number) => JSON.stringify({ id, ...gatewayFlow(id) });
    writeFileSync(
      path,
      [good(1), '{not json', '', '{"host":"no id"}', '[1,2]', good(5), '{"id":6,"host":"cut sh'].join('\n'),
    );
    const { log, observer } = recorder();
    const store = await openFlowStore({ kind: 'jsonl', path, flushIntervalMs: 50 }, { log, observer });
    try {
      expect((store as JsonlFlowStore).badLines).toEqual([2, 4, 5, 7]);
      expect(log.lines.map((line) => [line.details.code, line.details.line])).toEqual([
        ['PW_ERR_STORE_RECORD_INVALID', 2],
        ['PW_ERR_STORE_RECORD_INVALID', 4],
        ['PW_ERR_STORE_RECORD_INVALID', 5],
        ['PW_ERR_STORE_RECORD_INVALID', 7],
      ]);
      expect(log.lines[0]?.message).toContain(`${path}:2:`);
      // The cut-off last line stays on its own line: the next record is not glued to it.
      store.append(gatewayFlow(9));
      const page = await store.query({});
      expect(page.flows.map((flow) => flow.id)).toEqual([6, 5, 1]);
      const lines = readFileSync(path, 'utf8').split('\n');
      expect(lines[6]).toBe('{"id":6,"host":"cut sh');
      expect(JSON.parse(lines[7] as string)).toMatchObject({ id: 6, host: 'api.powerbi.com' });
    } finally {
      await store.close();
    }
  });

  test('a path that cannot be a file fails to open with PW_ERR_STORE_OPEN', async () => {
    await expect(openFlowStore({ kind: 'jsonl', path: dir, flushIntervalMs: 50 })).rejects.toMatchObject({
      code: 'PW_ERR_STORE_OPEN',
    });
  });
});

describe('DuckDB store files', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pathwarden-duckdb-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('can be queried with SQL directly once the gateway has closed it (docs/gateway-api.md)', async () => {
    const path = join(dir, 'flows.duckdb');
    const store = await openFlowStore({ kind: 'duckdb', path, flushIntervalMs: 50 });
    store.append(gatewayFlow(0));
    store.append(gatewayFlow(1, { egressPath: 'internet', verdict: 'leak', host: 'api.powerbi.com' }));
    await store.close();
    const instance = await DuckDBInstance.create(path, { access_mode: 'READ_ONLY' });
    try {
      const connection = await instance.connect();
      const reader = await connection.runAndReadAll(
        `SELECT epoch_ms(time_ms) AS at, host, verdict, egress_path, bytes_up + bytes_down AS bytes
         FROM flows WHERE verdict = 'leak' ORDER BY time_ms DESC`,
      );
      expect(reader.getRowObjectsJson()).toEqual([
        {
          at: '2025-01-15 12:01:00',
          host: 'api.powerbi.com',
          verdict: 'leak',
          egress_path: 'internet',
          bytes: '1100',
        },
      ]);
      connection.closeSync();
    } finally {
      instance.closeSync();
    }
  });

  test('statistics from the per-minute rollup equal those from every flow, also after more writes', async () => {
    const path = join(dir, 'flows.duckdb');
    const verdicts = ['ok', 'leak', 'exception', 'unknown'] as const;
    const appendSome = (store: FlowStore, seed: number, count: number) => {
      for (let index = 0; index < count; index++) {
        const step = (index * 7919 + seed * 104_729) % 9973;
        const start = t0 + step * 1234; // about 3.4 hours, most minutes hit several times
        const blocked = step % 13 === 0;
        store.append(
          gatewayFlow(0, {
            start: step % 97 === 0 ? null : start,
            end: step % 97 === 0 ? (step % 2 === 0 ? null : start + 5) : start + 5,
            verdict: verdicts[step % verdicts.length] as FlowRecord['verdict'],
            egressPath: blocked ? null : step % 3 === 0 ? 'internet' : 'expressroute',
            actualPath: blocked ? 'unknown' : step % 3 === 0 ? 'internet' : 'expressroute',
            outcome: blocked ? 'blocked' : 'forwarded',
            bytesUp: step % 11 === 0 ? null : step,
            bytesDown: step * 3,
            ruleId: step % 17 === 0 ? null : `rule.${step % 3}`,
            host: step % 19 === 0 ? null : `h${step % 5}.example.com`,
            sni: step % 38 === 0 ? null : 'sni.example.com',
          }),
        );
      }
    };
    const h = 3_600_000;
    const ranges = [
      {},
      { series: false },
      { bucketMs: minute },
      { bucketMs: 5 * minute, gateway: 'b' },
      { from: t0 + 17_345, to: t0 + 2 * h + 1234 },
      { from: t0 + 30 * minute, to: t0 + 90 * minute, bucketMs: 10 * minute },
      { from: t0 + h + 5000 },
      { to: t0 + h + 59_999 },
      { from: t0 + 10_000, to: t0 + 50_000 },
      { from: t0 + 10_000, to: t0 + minute + 50_000 },
      { from: t0 + h, to: t0 + 2 * h, bucketMs: 30_000 },
      { gateway: 'a', series: false, from: t0 + 1000 },
      { gateway: 'nobody' },
    ];
    const compare = async (store: FlowStore) => {
      const duck = store as unknown as { useRollup: boolean; rollupReads: number };
      const before = duck.rollupReads;
      for (const range of ranges) {
        duck.useRollup = true;
        const rolled = await store.stats(range);
        duck.useRollup = false;
        const raw = await store.stats(range);
        duck.useRollup = true;
        expect(rolled, JSON.stringify(range)).toEqual(raw);
      }
      const exception = 'exception' as const;
      const groupQueries = [
        { verdict: exception },
        { verdict: exception, gateway: 'b' },
        { verdict: exception, from: t0 + 17_345, to: t0 + 2 * h + 1234 },
        { verdict: exception, to: t0 + h },
        { verdict: exception, from: t0 + 10_000, to: t0 + 50_000 },
        { verdict: 'leak' as const },
        { verdict: exception, host: 'h1' },
      ];
      for (const query of groupQueries) {
        duck.useRollup = true;
        const rolled = await store.groups?.(query);
        duck.useRollup = false;
        const raw = await store.groups?.(query);
        duck.useRollup = true;
        expect(rolled, JSON.stringify(query)).toEqual(raw);
        // Several rules and names, some of them null (the grouping keys the rollup must keep apart).
        if (query === groupQueries[0]) expect(raw?.length).toBeGreaterThan(10);
      }
      // From the raw flows: the range without a whole minute, the 30 s buckets, and the two ranges
      // of about 1 and 2 hours whose automatic bucket (15 s, 30 s) is not whole minutes.
      expect(duck.rollupReads - before).toBe(ranges.length - 5 + groupQueries.length - 3);
    };
    const a = await openFlowStore({ kind: 'duckdb', path, flushIntervalMs: 50 }, { gateway: 'a' });
    appendSome(a, 1, 3000);
    await compare(a);
    // More flows after the first refresh, some into minutes the rollup already holds.
    appendSome(a, 2, 500);
    await compare(a);
    await a.close();
    const b = await openFlowStore({ kind: 'duckdb', path, flushIntervalMs: 50 }, { gateway: 'b' });
    appendSome(b, 3, 700);
    await compare(b);
    const all = await b.stats({ series: false });
    expect(all.flows).toBe(4200);
    expect(all.series.points).toEqual([]);
    await b.close();
    // The rollup is a table in the file: a few rows per minute, all flows counted once.
    const instance = await DuckDBInstance.create(path, { access_mode: 'READ_ONLY' });
    try {
      const connection = await instance.connect();
      const reader = await connection.runAndReadAll('SELECT count(*), sum(flows) FROM flows_minute');
      const [rows, flows] = reader.getRows()[0] ?? [];
      expect(Number(flows)).toBe(4200);
      expect(Number(rows)).toBeLessThan(4200);
      connection.closeSync();
    } finally {
      instance.closeSync();
    }
  });

  test('refuses files that are not its database with PW_ERR_STORE_OPEN', async () => {
    const notDuck = join(dir, 'text.duckdb');
    writeFileSync(notDuck, 'hello, I am not a database\n'.repeat(200));
    await expect(openFlowStore({ kind: 'duckdb', path: notDuck, flushIntervalMs: 50 })).rejects.toMatchObject(
      {
        code: 'PW_ERR_STORE_OPEN',
      },
    );
    const other = join(dir, 'other.duckdb');
    const instance = await DuckDBInstance.create(other);
    const connection = await instance.connect();
    await connection.run('CREATE TABLE flows (id BIGINT, something VARCHAR)');
    connection.closeSync();
    instance.closeSync();
    await expect(openFlowStore({ kind: 'duckdb', path: other, flushIntervalMs: 50 })).rejects.toMatchObject({
      code: 'PW_ERR_STORE_OPEN',
      message: expect.stringContaining('other columns'),
    });
  });
});

/** A store whose writes fail on demand, to test what every store shares. */
class FlakyStore extends BufferedFlowStore {
  readonly kind = 'flaky';
  failing = true;
  written: StoredFlow[] = [];

  constructor(options: FlowStoreOptions) {
    super(0, 60_000, options);
  }

  protected async writeBatch(flows: readonly StoredFlow[]): Promise<void> {
    if (this.failing) throw new Error('disk full');
    this.written.push(...flows);
  }
  protected readPage = async () => ({
    total: this.written.length,
    offset: 0,
    limit: 100,
    flows: this.written,
    next: null,
  });
  protected readStats = async () => {
    throw new Error('not used');
  };
  protected readGroups = async () => [];
  protected release = async () => undefined;
}

describe('buffering shared by the stores', () => {
  test('a failing write is logged once, counted, retried, and dropped after the last attempt', async () => {
    const { log, observer } = recorder();
    const store = new FlakyStore({ log, observer, maxAttempts: 3 });
    store.append(gatewayFlow(0));
    await store.flush();
    store.append(gatewayFlow(1));
    await store.flush();
    expect(observer.failed).toBe(2);
    expect(observer.dropped).toBe(0);
    expect(observer.buffered.at(-1)).toBe(2);
    await store.flush(); // third attempt of the first record: the batch is given up
    expect(observer.failed).toBe(3);
    expect(observer.dropped).toBe(2);
    expect(log.lines.filter((line) => line.level === 'error')).toHaveLength(1);
    expect(log.lines[0]).toMatchObject({ details: { code: 'PW_ERR_STORE_IO', err: 'disk full' } });
    store.failing = false;
    store.append(gatewayFlow(2));
    await store.flush();
    expect(store.written.map((flow) => flow.id)).toEqual([3]);
    expect(log.lines.at(-1)).toMatchObject({
      level: 'warn',
      message: 'flow store writes recovered',
      details: { failedBatches: 3, droppedFlows: 2 },
    });
    await store.close();
  });

  test('a burst of appends starts a write at once rather than waiting for the timer', async () => {
    const store = new FlakyStore({});
    store.failing = false;
    for (let index = 0; index < 8192; index++) store.append(gatewayFlow(index % 60));
    await new Promise((resolve) => setImmediate(resolve));
    expect(store.written).toHaveLength(8192);
    await store.close();
  });

  test('while writes fail the buffer is bounded: the oldest records are dropped first', async () => {
    const { log, observer } = recorder();
    const store = new FlakyStore({ log, observer, maxAttempts: 100, maxBuffered: 5 });
    for (let index = 0; index < 8; index++) store.append(gatewayFlow(index));
    expect(observer.dropped).toBe(3);
    store.failing = false;
    await store.flush();
    expect(store.written.map((flow) => flow.id)).toEqual([4, 5, 6, 7, 8]);
    await store.close();
  });
});
