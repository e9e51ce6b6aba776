// `dashboard --store clickhouse://...` when the store fails: the API answers 500 PW_ERR_STORE_IO
// without details, and the dashboard's log line carries ClickHouse's own message, so whoever runs
// the dashboard (or bench:clickhouse) can see why.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadBuiltinCatalog } from '../../catalog/load.js';
import { mergeTreeDdl } from '../../store/clickhouse-schema.js';
import { ClickHouseTestServer } from '../../store/testing/clickhouse-server.js';
import { needPeers } from '../../testing/peers.js';
import { startStoredDashboard } from './serve.js';

describe.skipIf(!needPeers('clickhouse'))('stored dashboard over ClickHouse', () => {
  let server: ClickHouseTestServer;

  beforeAll(async () => {
    server = await ClickHouseTestServer.start();
  }, 90_000);

  afterAll(async () => {
    await server?.dispose();
  }, 60_000);

  test('a failed store query answers 500 and logs ClickHouse’s reason', async () => {
    const errors: Record<string, unknown>[] = [];
    await server.query('CREATE DATABASE pw_serve');
    await server.query(mergeTreeDdl('pw_serve', 'flows'));
    const dashboard = await startStoredDashboard({
      file: `clickhouse://127.0.0.1:${server.httpPort}/pw_serve?table=flows`,
      listen: '127.0.0.1:0',
      catalog: loadBuiltinCatalog().catalog,
      log: { warn: () => undefined, error: (details) => errors.push(details) },
    });
    try {
      const ok = await fetch(new URL('api/flows?limit=5', dashboard.url));
      expect(ok.status).toBe(200);
      expect(errors).toEqual([]);
      await server.query('DROP TABLE pw_serve.flows');
      for (const path of ['api/flows?limit=5', 'api/stats']) {
        const failed = await fetch(new URL(path, dashboard.url));
        expect(failed.status).toBe(500);
        expect(((await failed.json()) as { error: { code: string } }).error.code).toBe('PW_ERR_STORE_IO');
      }
      expect(errors).toHaveLength(2);
      for (const details of errors) {
        expect(details.code).toBe('PW_ERR_STORE_IO');
        // UNKNOWN_TABLE, in the server's words.
        expect(String(details.err)).toMatch(
          /ClickHouse flow store query failed: Code: 60\b.*pw_serve\.flows/,
        );
      }
    } finally {
      await dashboard.close();
    }
  }, 60_000);
});
