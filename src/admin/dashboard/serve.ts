// `pathwarden dashboard` as a programmatic API: the admin API and the dashboard, read-only over a
// stored flow file. No proxy runs, so there is no live health and no tunnel.
import type { Catalog } from '../../catalog/model.js';
import { PathwardenError } from '../../errors.js';
import type { GatewayStatus } from '../../gateway/contracts.js';
import { Policy } from '../../policy/policy.js';
import { stderrLog } from '../../store/buffer.js';
import type { StoreLog } from '../../store/store.js';
import { isLoopbackHostPort } from '../../util/host-port.js';
import { GatewayMetrics } from '../metrics.js';
import { startAdminServer } from '../server.js';
import { createDashboardHandler } from './routes.js';
import { openStoredFlows, type StoredFlowSource } from './source.js';

export interface StoredDashboardOptions {
  /** A DuckDB flow store, a JSONL flow store, or an audit's --ndjson output. */
  file: string;
  /** host:port; port 0 picks a free one. */
  listen: string;
  token?: string;
  catalog: Catalog;
  log?: StoreLog;
}

export interface StoredDashboard {
  /** Base URL of the dashboard, e.g. http://127.0.0.1:9181/ */
  url: string;
  source: StoredFlowSource;
  close(): Promise<void>;
}

/** A stored file has no probes and no open tunnels. */
const storedStatus: GatewayStatus = { health: () => [], activeTunnels: () => 0 };

export async function startStoredDashboard(options: StoredDashboardOptions): Promise<StoredDashboard> {
  if (options.token === undefined && !isLoopbackHostPort(options.listen)) {
    // The same rule as the gateway's admin address: flow records name clients and destinations.
    throw new PathwardenError(
      'PW_ERR_USAGE',
      `--listen ${options.listen} is not a loopback address: give --token to expose the dashboard`,
    );
  }
  if (options.token !== undefined && options.token.length < 16) {
    throw new PathwardenError('PW_ERR_USAGE', '--token must be at least 16 characters');
  }
  const policy = Policy.compile(options.catalog);
  const source = await openStoredFlows(options.file, { log: options.log });
  // The API answers a store failure with only "the flow store could not answer"; the log (the
  // store's, stderr by default) gets why, with the store's own words (ClickHouse's message).
  const log = options.log ?? stderrLog;
  const onError = (error: unknown) =>
    log.error({ code: 'PW_ERR_STORE_IO', err: String(error) }, 'dashboard query failed');
  const dashboard = createDashboardHandler({
    store: source.store,
    policy,
    status: storedStatus,
    token: options.token,
    mode: 'stored',
    onError,
  });
  try {
    const admin = await startAdminServer({
      listen: options.listen,
      token: options.token,
      store: source.store,
      metrics: new GatewayMetrics(),
      policy,
      status: storedStatus,
      static: dashboard,
      onError,
    });
    return {
      url: `http://${admin.address}/`,
      source,
      close: async () => {
        dashboard.close();
        await admin.close();
        await source.close();
      },
    };
  } catch (error) {
    dashboard.close();
    await source.close();
    throw error;
  }
}
