// The admin API of a running gateway answers a client's bad statistics request with 400 whichever
// store holds the flows, and every 500 it does send is in the gateway's log (issue 10, item 5).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { GatewayMetrics } from '../admin/metrics.js';
import { startAdminServer } from '../admin/server.js';
import { emptyFlow, type FlowRecord } from '../flow/record.js';
import { gatewayConfigSchema } from '../gateway/config.js';
import { type RunningGateway, startGateway } from '../gateway/gateway.js';
import type { FlowStore } from '../store/store.js';
import { openFlowStore } from '../store/store.js';

const hour = 3_600_000;

function flowAt(time: number): FlowRecord {
  return {
    ...emptyFlow({ kind: 'gateway' }),
    start: time,
    end: time + 100,
    host: 'api.powerbi.com',
    port: 443,
    verdict: 'ok',
    egressPath: 'expressroute',
    outcome: 'forwarded',
  };
}

/** A gateway on loopback with `store` and a log captured in `lines`. */
async function gatewayWith(store: FlowStore, lines: Record<string, unknown>[]): Promise<RunningGateway> {
  const config = gatewayConfigSchema.parse({
    listen: '127.0.0.1:0',
    admin: '127.0.0.1:0',
    egress: { expressroute: { localAddress: '127.0.0.2' }, internet: { localAddress: '127.0.0.3' } },
  });
  const log = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      callback();
    },
  });
  return startGateway(config, {
    store,
    metrics: new GatewayMetrics({ processMetrics: false }),
    logger: pino({ level: 'info' }, log),
    startAdmin: startAdminServer,
  });
}

async function getJson(url: string): Promise<{ status: number; body: { error?: Record<string, unknown> } }> {
  const response = await fetch(url);
  return { status: response.status, body: (await response.json()) as { error?: Record<string, unknown> } };
}

describe.each(['duckdb', 'jsonl'] as const)('GET /api/stats with too many buckets, %s store', (kind) => {
  let dir: string;
  let gateway: RunningGateway;
  const lines: Record<string, unknown>[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pw-stats-'));
    const store = await openFlowStore(
      { kind, path: join(dir, kind === 'duckdb' ? 'flows.duckdb' : 'flows.jsonl'), flushIntervalMs: 60_000 },
      { log: pino({ level: 'silent' }) },
    );
    const now = Date.now();
    store.append(flowAt(now - 2 * hour));
    store.append(flowAt(now - hour));
    await store.flush();
    gateway = await gatewayWith(store, lines);
  });

  afterAll(async () => {
    await gateway?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('bucket=1s&from=now-1d is a 400 naming the bucket parameter, not a 500', async () => {
    const { status, body } = await getJson(`http://${gateway.adminAddress}/api/stats?bucket=1s&from=now-1d`);
    expect(body.error).toMatchObject({
      code: 'PW_ERR_QUERY_INVALID',
      parameter: 'bucket',
      message: expect.stringMatching(/buckets; at most 10000/),
    });
    expect(status).toBe(400);
    expect(lines.filter((line) => line.level === 50)).toEqual([]);
  });
});

describe('a 500 of the admin API is logged', () => {
  test('a store that fails its query: 500 to the client, an error line in the gateway log', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pw-500-'));
    const lines: Record<string, unknown>[] = [];
    const store = await openFlowStore(
      { kind: 'jsonl', path: join(dir, 'flows.jsonl'), flushIntervalMs: 60_000 },
      { log: pino({ level: 'silent' }) },
    );
    store.query = async () => {
      throw Object.assign(new Error('disk gone'), { code: 'EIO' });
    };
    const gateway = await gatewayWith(store, lines);
    try {
      const { status } = await getJson(`http://${gateway.adminAddress}/api/flows`);
      expect(status).toBe(500);
      expect(lines.filter((line) => line.level === 50)).toMatchObject([
        { msg: 'admin API request failed', path: '/api/flows', err: expect.stringContaining('disk gone') },
      ]);
    } finally {
      await gateway.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
