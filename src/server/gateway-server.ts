// The one place the proxy and the admin side meet: opens the logger, the metrics and the flow store,
// starts the gateway (src/gateway) and hands it the admin server with the dashboard (src/admin) as
// its admin starter. src/gateway never imports src/admin; both are wired here, below the CLI.
import { type GatewayConfig, gatewayIdOf } from '../gateway/config.js';
import type { RunningGateway } from '../gateway/gateway.js';
import type { Policy } from '../policy/policy.js';

/**
 * Starts `pathwarden gateway` for a checked config and a compiled policy. Loaded lazily by the CLI
 * so every other command stays free of DuckDB, prom-client and the proxy.
 */
export async function startGatewayServer(config: GatewayConfig, policy: Policy): Promise<RunningGateway> {
  const [
    { startGateway },
    { createGatewayLogger },
    { GatewayMetrics },
    { openFlowStore },
    { startAdminServer },
    { withDashboard },
  ] = await Promise.all([
    import('../gateway/gateway.js'),
    import('../gateway/logger.js'),
    import('../admin/metrics.js'),
    import('../store/store.js'),
    import('../admin/server.js'),
    import('../admin/dashboard/routes.js'),
  ]);
  const logger = createGatewayLogger(config.log);
  const metrics = new GatewayMetrics();
  const store = await openFlowStore(config.store, {
    log: logger,
    observer: metrics,
    gateway: gatewayIdOf(config),
  });
  return startGateway(config, {
    store,
    metrics,
    logger,
    policy,
    // The dashboard is served on the admin address, behind the same token.
    startAdmin: withDashboard(startAdminServer),
  });
}
