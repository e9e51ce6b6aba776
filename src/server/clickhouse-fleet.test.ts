// The fleet end to end: two gateways (ids `a` and `b`) store into a Distributed table over a two-shard
// cluster on a clickhouse-server the test starts; every proxied request is stored exactly once, the
// dashboard over clickhouse:// shows the total and both gateways, and when ClickHouse is stopped for
// 20 s the requests are still answered and every flow arrives once after it starts again.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { ProxyAgent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type StoredDashboard, startStoredDashboard } from '../admin/dashboard/serve.js';
import { GatewayMetrics } from '../admin/metrics.js';
import { loadBuiltinCatalog } from '../catalog/load.js';
import { runCli } from '../cli/program.js';
import { gatewayConfigSchema, gatewayIdOf } from '../gateway/config.js';
import { type RunningGateway, startGateway } from '../gateway/gateway.js';
import { type Origin, startHttpOrigin } from '../gateway/testing/origins.js';
import { openFlowStore } from '../store/store.js';
import {
  ClickHouseTestServer,
  testClusterName,
  testShardDatabases,
} from '../store/testing/clickhouse-server.js';
import { needPeers } from '../testing/peers.js';

const database = 'pw_fleet';

interface FleetGateway {
  id: string;
  gateway: RunningGateway;
  metrics: GatewayMetrics;
  agent: ProxyAgent;
  sent: number;
}

async function schemaScript(): Promise<string> {
  const stdout = new PassThrough();
  let out = '';
  stdout.on('data', (chunk) => {
    out += chunk;
  });
  const code = await runCli(
    [
      'store',
      'schema',
      'clickhouse',
      '--database',
      database,
      '--cluster',
      testClusterName,
      '--local-database',
      '',
    ],
    { stdin: new PassThrough(), stdout, stderr: new PassThrough() },
  );
  expect(code).toBe(0);
  return out;
}

function statements(script: string): string[] {
  return script
    .split('\n')
    .filter((line) => !line.startsWith('--'))
    .join('\n')
    .split(/;\n/)
    .map((statement) => statement.trim())
    .filter((statement) => statement !== '');
}

describe.skipIf(!needPeers('clickhouse'))('a fleet of gateways on a two-shard ClickHouse cluster', () => {
  let server: ClickHouseTestServer;
  let origin: Origin;
  let dir: string;
  const fleet: FleetGateway[] = [];
  let dashboard: StoredDashboard | undefined;

  beforeAll(async () => {
    server = await ClickHouseTestServer.start();
    origin = await startHttpOrigin();
    dir = mkdtempSync(join(tmpdir(), 'pw-fleet-'));
    const [shardPart, entryPart] = (await schemaScript()).split(/^(?=-- 2\.)/m) as [string, string];
    for (const shard of testShardDatabases) {
      for (const statement of statements(shardPart)) {
        const response = await fetch(`${server.url}/?database=${shard}`, { method: 'POST', body: statement });
        if (!response.ok) throw new Error(await response.text());
      }
    }
    for (const statement of statements(entryPart)) await server.query(statement);
    for (const id of ['a', 'b']) {
      const config = gatewayConfigSchema.parse({
        id,
        listen: '127.0.0.1:0',
        egress: { expressroute: { localAddress: '127.0.0.2' }, internet: { localAddress: '127.0.0.3' } },
        resolve: { '*.analysis.windows.net': '127.0.0.1' },
        allowDestinations: ['127.0.0.0/8'],
        ports: [origin.port],
        store: {
          kind: 'clickhouse',
          url: server.url,
          database,
          table: 'flows',
          flushIntervalMs: 200,
          spool: join(dir, `spool-${id}`),
          createTables: false,
          requestTimeoutMs: 3000,
        },
      });
      const metrics = new GatewayMetrics({ processMetrics: false });
      const store = await openFlowStore(config.store, { observer: metrics, gateway: gatewayIdOf(config) });
      const gateway = await startGateway(config, { store, metrics });
      const agent = new ProxyAgent({ uri: `http://${gateway.address}`, proxyTunnel: false });
      fleet.push({ id, gateway, metrics, agent, sent: 0 });
    }
  }, 120_000);

  afterAll(async () => {
    await dashboard?.close();
    for (const member of fleet) {
      await member.agent.close();
      await member.gateway.close();
    }
    await origin?.close();
    await server?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  /** One request through a gateway; resolves to its status (the proxy must answer every one). */
  async function proxied(member: FleetGateway): Promise<number> {
    member.sent++;
    const response = await request(
      `http://x.analysis.windows.net:${origin.port}/${member.id}/${member.sent}`,
      {
        dispatcher: member.agent,
      },
    );
    await response.body.dump();
    return response.statusCode;
  }

  const storedCount = async () => Number(await server.query(`SELECT count() FROM ${database}.flows`));
  const sentTotal = () => fleet.reduce((sum, member) => sum + member.sent, 0);

  async function expectEachFlowOnce(): Promise<void> {
    const rows = (
      await server.query(
        `SELECT gateway, count(), uniqExact(id), min(id), max(id) FROM ${database}.flows GROUP BY gateway ORDER BY gateway FORMAT CSV`,
      )
    ).trim();
    // Per gateway: as many rows as requests, every id once, ids 1..n.
    expect(rows).toBe(
      fleet.map((member) => `"${member.id}",${member.sent},${member.sent},1,${member.sent}`).join('\n'),
    );
  }

  test('every proxied request is stored once, and the dashboard over clickhouse:// shows both gateways', async () => {
    for (let round = 0; round < 30; round++) {
      const statuses = await Promise.all(fleet.map((member) => proxied(member)));
      expect(statuses).toEqual([200, 200]);
    }
    await expect.poll(storedCount, { timeout: 15_000, interval: 100 }).toBe(sentTotal());
    await expectEachFlowOnce();
    const perShard = await Promise.all(
      testShardDatabases.map(async (shard) =>
        Number(await server.query(`SELECT count() FROM ${shard}.flows_local`)),
      ),
    );
    expect(perShard.every((count) => count > 0)).toBe(true);

    dashboard = await startStoredDashboard({
      file: `clickhouse://127.0.0.1:${server.httpPort}/${database}?table=flows`,
      listen: '127.0.0.1:0',
      catalog: loadBuiltinCatalog().catalog,
    });
    expect(dashboard.source.kind).toBe('clickhouse');
    const stats = (await (await fetch(new URL('api/stats', dashboard.url))).json()) as {
      flows: number;
      byGateway: Record<string, { flows: number }>;
    };
    expect(stats.flows).toBe(60);
    expect(stats.byGateway).toMatchObject({ a: { flows: 30 }, b: { flows: 30 } });
    const onlyB = (await (await fetch(new URL('api/flows?gateway=b&limit=5', dashboard.url))).json()) as {
      total: number;
      flows: { gateway: string }[];
    };
    expect(onlyB.total).toBe(30);
    expect(new Set(onlyB.flows.map((flow) => flow.gateway))).toEqual(new Set(['b']));
  }, 60_000);

  test('ClickHouse stopped for 20 s: every request is answered, then every flow arrives once', async () => {
    const before = sentTotal();
    await server.stop();
    const stoppedAt = Date.now();
    let answered = 0;
    // Bounded: one request per gateway every 100 ms for 20 s.
    while (Date.now() - stoppedAt < 20_000) {
      const statuses = await Promise.all(fleet.map((member) => proxied(member)));
      answered += statuses.filter((status) => status === 200).length;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(answered).toBe(sentTotal() - before);
    expect(answered).toBeGreaterThan(40);
    // The batches of the outage wait in each gateway's spool, as the metrics show.
    const spooled = await Promise.all(
      fleet.map(
        async (member) => /pathwarden_store_spool_batches (\d+)/.exec(await member.metrics.metrics())?.[1],
      ),
    );
    expect(spooled.every((batches) => Number(batches) > 0)).toBe(true);
    await server.resume();
    await expect.poll(storedCount, { timeout: 60_000, interval: 250 }).toBe(sentTotal());
    await expectEachFlowOnce();
    const spoolAfter = await Promise.all(
      fleet.map(
        async (member) => /pathwarden_store_spool_batches (\d+)/.exec(await member.metrics.metrics())?.[1],
      ),
    );
    expect(spoolAfter).toEqual(['0', '0']);
  }, 120_000);
});
