// The ClickHouse per-minute rollup against the raw rows: every answer the rollup gives equals the
// raw scan's, on one server and on two shards behind a Distributed table; the backfill folds rows
// stored before the views existed in once (also while inserts run, and when run again); a rollup
// without coverage is not read.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { runCli } from '../cli/program.js';
import { emptyFlow, type FlowRecord } from '../flow/record.js';
import { needPeers } from '../testing/peers.js';
import {
  type ClickHouseFlowStore,
  ClickHouseFlowTable,
  type ClickHouseStoreConfig,
  openClickHouseFlowStore,
} from './clickhouse.js';
import { backfillRollup, rollupDdl, rollupNames } from './clickhouse-rollup.js';
import { clickhouseSchema, mergeTreeDdl } from './clickhouse-schema.js';
import type { FlowQuery, StatsRange } from './store.js';
import { ClickHouseTestServer, testClusterName, testShardDatabases } from './testing/clickhouse-server.js';

const t0 = Date.UTC(2025, 0, 15, 12, 0, 0);
const minute = 60_000;
const hour = 3_600_000;

/** A small deterministic generator (mulberry32): the same flows on every run. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = Math.imul(state ^ (state >>> 15), 1 | state);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), 61 | mixed);
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const verdicts = ['ok', 'leak', 'exception', 'unknown'] as const;

/** Flows over about three hours, many in each minute and some on its first or last millisecond. */
function randomFlows(seed: number, count: number): FlowRecord[] {
  const next = random(seed);
  const pick = <T>(items: readonly T[]) => items[Math.floor(next() * items.length)] as T;
  return Array.from({ length: count }, () => {
    const edge = next();
    const minuteStart = t0 + Math.floor(next() * 180) * minute;
    const start =
      edge < 0.1 ? minuteStart : edge < 0.2 ? minuteStart - 1 : minuteStart + Math.floor(next() * minute);
    const noTime = next() < 0.02;
    const blocked = next() < 0.1;
    const internet = next() < 0.3;
    return {
      ...emptyFlow({ kind: 'gateway' }),
      start: noTime ? null : start,
      end: noTime ? null : start + Math.floor(next() * 5000),
      host: next() < 0.05 ? null : `h${Math.floor(next() * 6)}.example.com`,
      sni: next() < 0.5 ? null : 'sni.example.com',
      destination: next() < 0.5 ? null : '203.0.113.7',
      port: 443,
      verdict: pick(verdicts),
      ruleId: next() < 0.1 ? null : `rule.${Math.floor(next() * 4)}`,
      egressPath: blocked ? null : internet ? 'internet' : 'expressroute',
      actualPath: blocked ? 'unknown' : internet ? 'internet' : 'expressroute',
      outcome: blocked ? 'blocked' : 'forwarded',
      bytesUp: next() < 0.1 ? null : Math.floor(next() * 1e6),
      bytesDown: Math.floor(next() * 1e9),
    };
  });
}

const ranges: StatsRange[] = [
  {},
  { series: false },
  { bucketMs: minute },
  { bucketMs: 5 * minute, gateway: 'b' },
  { from: t0 + 17_345, to: t0 + 2 * hour + 1234 },
  { from: t0 + 30 * minute, to: t0 + 90 * minute, bucketMs: 10 * minute },
  { from: t0 + hour + 5000, series: false },
  { to: t0 + hour + 59_999 },
  { from: t0 + 10_000, to: t0 + 50_000 },
  { from: t0 + 10_000, to: t0 + minute + 50_000, series: false },
  { gateway: 'a', series: false, from: t0 + 1000 },
  { bucketMs: 604_800_000 },
  { gateway: 'nobody' },
];
/** Of `ranges`, those the rollup cannot answer: no whole minute (2), a 15 s or 30 s automatic bucket (2). */
const rawOnlyRanges = 4;

const groupQueries: FlowQuery[] = [
  { verdict: 'exception' },
  { verdict: 'exception', gateway: 'b' },
  { verdict: 'exception', from: t0 + 17_345, to: t0 + 2 * hour + 1234 },
  { verdict: 'exception', to: t0 + hour },
  { verdict: 'exception', from: t0 + 10_000, to: t0 + 50_000 },
  { verdict: 'leak' },
  { verdict: 'exception', host: 'h1' },
];
const rawOnlyGroups = 3;

/** Every rollup-backed answer equals the raw scan's; returns how many came from the rollup. */
async function compareWithRaw(store: ClickHouseFlowStore): Promise<number> {
  const before = store.rollupReads;
  for (const range of ranges) {
    store.useRollup = true;
    const rolled = await store.stats(range);
    store.useRollup = false;
    const raw = await store.stats(range);
    store.useRollup = true;
    expect(rolled, JSON.stringify(range)).toEqual(raw);
  }
  for (const query of groupQueries) {
    store.useRollup = true;
    const rolled = await store.groups(query);
    store.useRollup = false;
    const raw = await store.groups(query);
    store.useRollup = true;
    expect(rolled, JSON.stringify(query)).toEqual(raw);
    if (query === groupQueries[0]) expect(raw.length).toBeGreaterThan(10);
  }
  return store.rollupReads - before;
}

const fullyRolled = ranges.length - rawOnlyRanges + groupQueries.length - rawOnlyGroups;

describe.skipIf(!needPeers('clickhouse'))('ClickHouse per-minute rollup', () => {
  let server: ClickHouseTestServer;
  let dir: string;
  let tables = 0;
  const stores: ClickHouseFlowStore[] = [];
  const others: ClickHouseFlowTable[] = [];

  beforeAll(async () => {
    server = await ClickHouseTestServer.start();
  }, 90_000);

  afterAll(async () => {
    await server?.dispose();
  }, 60_000);

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pw-ch-rollup-'));
  });

  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
    for (const table of others.splice(0)) await table.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const open = async (gateway: string, overrides: Partial<ClickHouseStoreConfig>) => {
    const store = await openClickHouseFlowStore(
      {
        url: server.url,
        database: 'pathwarden',
        table: 'flows',
        flushIntervalMs: 50,
        spool: join(dir, `spool-${gateway}`),
        createTables: true,
        requestTimeoutMs: 30_000,
        ...overrides,
      },
      gateway,
    );
    stores.push(store);
    // The backfill at open runs in the background: these tests read the rollup once it has run.
    await store.rollupBackfill;
    return store;
  };

  const tableOf = (database: string, table: string) => {
    const flowTable = new ClickHouseFlowTable({ url: server.url, database, table });
    others.push(flowTable);
    return flowTable;
  };

  const append = async (store: ClickHouseFlowStore, flows: readonly FlowRecord[]) => {
    for (const flow of flows) store.append(flow);
    await store.flush();
  };

  const number = async (sql: string) => Number(await server.query(sql));

  /** A one-server flow table as a version before the rollup made it, with `count` flows of `a`. */
  const tableBeforeRollup = async (seed: number, count: number) => {
    const database = `pw_rollup_${++tables}`;
    await server.query(`CREATE DATABASE ${database}`);
    await server.query(mergeTreeDdl(database, 'flows'));
    const a = await open('a', { database, createTables: false });
    await append(a, randomFlows(seed, count));
    return { database, a };
  };

  test('one server: a table the store creates is covered from its first row, and every answer equals the raw scan', async () => {
    const database = `pw_rollup_${++tables}`;
    const a = await open('a', { database });
    const b = await open('b', { database });
    expect(await a.flowTable.rollupCovers()).toBe(true);
    await append(a, randomFlows(1, 3000));
    await append(b, randomFlows(2, 1500));
    expect(await compareWithRaw(a)).toBe(fullyRolled);
    // The rollup holds far fewer rows than the flows, and counts each flow once.
    expect(await number(`SELECT sumMerge(flows) FROM ${database}.flows_minute WHERE kind = 0`)).toBe(4500);
    expect(await number(`SELECT count() FROM ${database}.flows_minute WHERE kind = 0`)).toBeLessThan(4500);
    expect((await a.stats({ series: false })).flows).toBe(4500);
  });

  test('two shards: rows before the rollup are backfilled once, also while inserts run and when run again', async () => {
    const table = `flows${++tables}`;
    const local = `${table}_local`;
    const schema = clickhouseSchema({
      database: 'pathwarden',
      table,
      cluster: testClusterName,
      localDatabase: '',
    });
    const onShard = async (shard: string, statement: string) => {
      const response = await fetch(`${server.url}/?database=${shard}`, { method: 'POST', body: statement });
      expect(response.ok, await response.text()).toBe(true);
    };
    // The tables of a version before the rollup: the flow tables only.
    for (const shard of testShardDatabases) await onShard(shard, mergeTreeDdl('', local));
    await server.query('CREATE DATABASE IF NOT EXISTS pathwarden');
    await server.query(schema.entryStatements[1] as string);
    const a = await open('a', { table, createTables: false });
    const b = await open('b', { table, createTables: false });
    await append(a, randomFlows(3, 2000));
    await append(b, randomFlows(4, 1000));
    // Now the DDL of this version, on every shard and on the entry server: views from now on.
    for (const shard of testShardDatabases)
      for (const statement of schema.shardStatements) await onShard(shard, statement);
    for (const statement of schema.entryStatements) await server.query(statement);
    await append(a, randomFlows(5, 500));
    // No shard is backfilled: the rollup is not read, answers come from the raw rows.
    expect(await a.flowTable.rollupCovers()).toBe(false);
    const before = await a.stats({ series: false });
    expect(before.flows).toBe(3500);
    expect(await compareWithRaw(a)).toBe(0);
    // The first shard backfilled while gateway b inserts: still not covered (one shard of two).
    const shard1 = tableOf(testShardDatabases[0], local);
    const inserting = append(b, randomFlows(6, 2000));
    const first = await backfillRollup(shard1, { pollMs: 20 });
    await inserting;
    expect(first.status).toBe('done');
    a.flowTable.forgetRollupCoverage();
    expect(await a.flowTable.rollupCovers()).toBe(false);
    const shard2 = tableOf(testShardDatabases[1], local);
    const more = append(a, randomFlows(7, 1500));
    expect((await backfillRollup(shard2, { pollMs: 20 })).status).toBe('done');
    await more;
    a.flowTable.forgetRollupCoverage();
    expect(await a.flowTable.rollupCovers()).toBe(true);
    const rolledTotal = async () =>
      number(`SELECT sumMerge(flows) FROM pathwarden.${rollupNames(table).rollup} WHERE kind = 0`);
    expect(await rolledTotal()).toBe(7000);
    expect(await compareWithRaw(a)).toBe(fullyRolled);
    // Run again: nothing is added.
    expect((await backfillRollup(shard1)).status).toBe('covered');
    expect((await backfillRollup(shard2)).status).toBe('covered');
    expect(await rolledTotal()).toBe(7000);
    await append(b, randomFlows(8, 300));
    expect(await rolledTotal()).toBe(7300);
    expect(await compareWithRaw(b)).toBe(fullyRolled);
    // The lock: a staging table left behind (a backfill running, or one that crashed) stops another.
    await server.query(`CREATE DATABASE IF NOT EXISTS pw_lock`);
    const lock = tableOf('pw_lock', 'flows');
    await lock.command(mergeTreeDdl('pw_lock', 'flows'));
    for (const statement of rollupDdl('pw_lock', 'flows')) await lock.command(statement);
    await lock.command('CREATE TABLE pw_lock.flows_minute_backfill AS pw_lock.flows_minute');
    await expect(backfillRollup(lock)).rejects.toThrow(/another rollup backfill runs/);
    await expect(backfillRollup(tableOf('pathwarden', table))).rejects.toThrow(/Distributed/);
  }, 120_000);

  test('an insert that started before the views and runs on is waited for: its rows are counted once', async () => {
    const { database, a } = await tableBeforeRollup(10, 500);
    // A slow insert (about 2 s): it starts before the views exist, so none of its rows reach them.
    const slow = server.query(
      `INSERT INTO ${database}.flows (gateway, id, event_time, time_ms, verdict)
       SELECT 'slow', number + 1, toDateTime(${t0 / 1000} + number), toInt64(${t0} + number * 1000), 'ok'
       FROM numbers(2000) WHERE sleepEachRow(0.001) = 0 SETTINGS max_block_size = 50`,
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const statement of rollupDdl(database, 'flows')) await server.query(statement);
    const result = await backfillRollup(tableOf(database, 'flows'), { pollMs: 20 });
    await slow;
    expect(result).toEqual({ status: 'done', gateways: 2, rows: 2500 });
    expect(await number(`SELECT sumMerge(flows) FROM ${database}.flows_minute WHERE kind = 0`)).toBe(2500);
    await append(a, randomFlows(11, 500));
    a.flowTable.forgetRollupCoverage();
    expect(await compareWithRaw(a)).toBe(fullyRolled);
  }, 60_000);

  test("a batch inserted between any two of the rollup's DDL statements is counted once", async () => {
    // ClickHouse picks the views an INSERT feeds when it starts: a batch between two view creations
    // reaches the earlier views only. Every rollup target must still be folded in exactly once.
    const { database, a } = await tableBeforeRollup(13, 400);
    let seed = 20;
    for (const statement of rollupDdl(database, 'flows')) {
      await server.query(statement);
      await append(a, randomFlows(seed++, 300));
    }
    const table = tableOf(database, 'flows');
    expect((await backfillRollup(table, { pollMs: 20 })).status).toBe('done');
    const total = 400 + 300 * rollupDdl(database, 'flows').length;
    expect(await number(`SELECT sumMerge(flows) FROM ${database}.flows_minute WHERE kind = 0`)).toBe(total);
    a.flowTable.forgetRollupCoverage();
    expect(await compareWithRaw(a)).toBe(fullyRolled);
  });

  test('inserts running while the rollup is created and backfilled are counted once', async () => {
    const { database, a } = await tableBeforeRollup(14, 300);
    let stop = false;
    let batches = 0;
    const inserting = (async () => {
      while (!stop && batches < 200) await append(a, randomFlows(100 + batches++, 40));
    })();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const table = tableOf(database, 'flows');
    await table.createRollup();
    const result = await backfillRollup(table, { pollMs: 20 });
    stop = true;
    await inserting;
    expect(result.status).toBe('done');
    expect(await number(`SELECT sumMerge(flows) FROM ${database}.flows_minute WHERE kind = 0`)).toBe(
      300 + 40 * batches,
    );
    a.flowTable.forgetRollupCoverage();
    expect(await compareWithRaw(a)).toBe(fullyRolled);
  }, 60_000);

  test("with --ttl-days the rollup's TTL expires minutes, never the backfill marker", async () => {
    // 18.16 has no TTL clause: the printed expression is evaluated on rows instead.
    const [rollupTable] = rollupDdl('pathwarden', 'flows', 30);
    const expression = /\nTTL ([\s\S]+)$/.exec(rollupTable as string)?.[1];
    expect(expression).toBeDefined();
    const expires = async (kind: number, at: number) =>
      number(
        `SELECT toUInt32(${expression}) FROM (SELECT toUInt8(${kind}) AS kind, toInt64(${at}) AS minute)`,
      );
    expect(await expires(0, t0)).toBe(t0 / 1000 + 30 * 86_400);
    expect(await expires(1, t0)).toBe(t0 / 1000 + 30 * 86_400);
    // The marker's minute is 0 (1970): under the minute's TTL it expired at once, and the next
    // backfill counted the rows the views had counted again.
    expect(await expires(2, 0)).toBe(4_294_967_295);
  });

  test('a coverage query that fails means not covered: statistics and groups read the raw rows', async () => {
    const database = `pw_rollup_${++tables}`;
    const a = await open('a', { database });
    await append(a, randomFlows(15, 600));
    // A rollup table that is not one (as a shard whose local rollup is missing or another table):
    // the marker count fails on the server, not only a read.
    await server.query(`DROP TABLE ${database}.flows_minute`);
    await server.query(`CREATE TABLE ${database}.flows_minute (x UInt8) ENGINE = Memory`);
    a.flowTable.forgetRollupCoverage();
    const before = a.rollupReads;
    for (let call = 0; call < 2; call++) {
      a.flowTable.forgetRollupCoverage();
      expect((await a.stats({ series: false })).flows).toBe(600);
      expect((await a.groups({ verdict: 'exception' })).length).toBeGreaterThan(0);
    }
    expect(a.rollupReads).toBe(before);
    expect(await compareWithRaw(a)).toBe(0);
  });

  test('a gateway opening with createTables serves at once: the backfill waits in the background', async () => {
    const { database } = await tableBeforeRollup(16, 500);
    const slowInsertInto = (into: string, table: string, columns: string, select: string) => {
      let done = false;
      const running = server
        .query(
          `INSERT INTO ${into}.${table} ${columns} SELECT ${select} FROM numbers(2000)
           WHERE sleepEachRow(0.001) = 0 SETTINGS max_block_size = 50`,
        )
        .then(() => {
          done = true;
        });
      return { running, done: () => done };
    };
    // Into the flow table, before the views: the backfill must wait for it (about 2 s).
    const slow = slowInsertInto(
      database,
      'flows',
      '(gateway, id, event_time, time_ms, verdict)',
      `'slow', number + 1, toDateTime(${t0 / 1000} + number), toInt64(${t0} + number * 1000), 'ok'`,
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    const store = await openClickHouseFlowStore(
      {
        url: server.url,
        database,
        table: 'flows',
        flushIntervalMs: 50,
        spool: join(dir, 'spool-c'),
        createTables: true,
        requestTimeoutMs: 30_000,
      },
      'c',
    );
    stores.push(store);
    // Open returned while the slow insert (and so the backfill) still runs; raw rows answer.
    expect(slow.done()).toBe(false);
    expect((await store.stats({ series: false })).flows).toBeGreaterThanOrEqual(500);
    expect(store.rollupReads).toBe(0);
    // An insert into another table is not waited for: the backfill ends while it runs.
    await slow.running;
    await store.rollupBackfill;
    store.flowTable.forgetRollupCoverage();
    expect(await compareWithRaw(store)).toBe(fullyRolled);
    const later = await tableBeforeRollup(17, 100);
    await server.query(`CREATE TABLE ${later.database}.other (n UInt64) ENGINE = MergeTree ORDER BY n`);
    const other = slowInsertInto(later.database, 'other', '(n)', 'number');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await backfillRollup(tableOf(later.database, 'flows'), { pollMs: 20 })).status).toBe('done');
    expect(other.done()).toBe(false);
    await other.running;
  }, 60_000);

  test('a backfill over thousands of writers stays within max_query_size', async () => {
    // `audit:<id>` writers: 4,000 gateways with 50-character names, one flow each, before the rollup.
    const { database, a } = await tableBeforeRollup(18, 200);
    await server.query(
      `INSERT INTO ${database}.flows (gateway, id, event_time, time_ms, verdict)
       SELECT concat('audit:', toString(number + 1000000), '${'x'.repeat(38)}'), toUInt64(1),
              toDateTime(${t0 / 1000}), toInt64(${t0} + number), 'exception'
       FROM numbers(4000)`,
    );
    const result = await backfillRollup(tableOf(database, 'flows'), { pollMs: 20 });
    expect(result).toEqual({ status: 'done', gateways: 4001, rows: 4200 });
    a.flowTable.forgetRollupCoverage();
    expect(await compareWithRaw(a)).toBe(fullyRolled);
  }, 60_000);

  test('`pathwarden store rollup` backfills a table once, and says so when run again', async () => {
    const { database, a } = await tableBeforeRollup(12, 700);
    const rollup = async () => {
      // One sink for stdout and stderr: what the command says, whichever stream it uses.
      const stdout = new PassThrough();
      let out = '';
      stdout.on('data', (chunk) => {
        out += chunk;
      });
      const stderr = stdout;
      const target = `clickhouse://127.0.0.1:${server.httpPort}/${database}`;
      const code = await runCli(['store', 'rollup', target], { stdin: new PassThrough(), stdout, stderr });
      return { code, out };
    };
    expect(await rollup()).toEqual({
      code: 0,
      out: `${database}.flows: 700 flows of 1 gateways folded into the rollup; readers use it now\n`,
    });
    expect((await rollup()).out).toContain('covers the table already');
    a.flowTable.forgetRollupCoverage();
    expect(await compareWithRaw(a)).toBe(fullyRolled);
  });

  test('a rollup without its marker, or dropped, is not read: the raw rows answer', async () => {
    const database = `pw_rollup_${++tables}`;
    const a = await open('a', { database });
    await append(a, randomFlows(9, 800));
    expect(await compareWithRaw(a)).toBe(fullyRolled);
    // The marker gone (as before any backfill): raw answers only, and the same numbers.
    await server.query(`ALTER TABLE ${database}.flows_minute DELETE WHERE kind = 2`);
    for (let tries = 0; tries < 50; tries++) {
      if ((await number(`SELECT count() FROM ${database}.flows_minute WHERE kind = 2`)) === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    a.flowTable.forgetRollupCoverage();
    expect(await compareWithRaw(a)).toBe(0);
    // A store opened with createTables backfills again: the rows the views saw are not counted twice.
    const b = await open('b', { database });
    expect(await b.flowTable.rollupCovers()).toBe(true);
    expect(await number(`SELECT sumMerge(flows) FROM ${database}.flows_minute WHERE kind = 0`)).toBe(800);
    // Dropped while covered: the read that fails reads the raw rows instead.
    await server.query(`DROP TABLE ${database}.flows_minute`);
    const before = b.rollupReads;
    expect((await b.stats({ series: false })).flows).toBe(800);
    expect(b.rollupReads).toBe(before);
  });
});
