// `pathwarden gateway`: runs the egress gateway of a config file until SIGTERM / SIGINT, or only
// validates the config with --check. Everything else lives in src/gateway/.
import { Command } from 'commander';
import { resolveCatalog } from '../catalog/load.js';
import { selectProfile } from '../catalog/profiles.js';
import { loadGatewayConfig } from '../gateway/config.js';
import { type CliIo, write } from './io.js';
import { compilePolicy } from './policy-cache.js';

interface GatewayOptions {
  config: string;
  check?: boolean;
}

export function gatewayCommand(io: CliIo, _setExit: (code: number) => void): Command {
  return new Command('gateway')
    .description(
      'run the egress gateway: a forward proxy that sends each connection out on its catalog path and fails closed',
    )
    .requiredOption('--config <file>', 'gateway config (YAML), see docs/gateway.md')
    .option('--check', 'validate the config and the catalogs it names, then exit')
    .addHelpText(
      'after',
      `
Examples:
  pathwarden gateway --config examples/gateway.yaml --check
  pathwarden gateway --config examples/gateway.yaml
  curl -x http://127.0.0.1:3128 https://app.powerbi.com/`,
    )
    .action(async (options: GatewayOptions) => {
      const config = loadGatewayConfig(options.config);
      const policy = compilePolicy(
        selectProfile(resolveCatalog({ files: config.catalog }).catalog, config.profile),
      );
      if (options.check) {
        await write(
          io.stdout,
          `${options.config}: valid (proxy ${config.listen}, admin ${config.admin}, ${policy.catalog.rules.length} catalog rules)\n`,
        );
        return;
      }
      // Loaded here, not at the top: every other command (and --check) stays free of DuckDB,
      // prom-client and the proxy.
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
        import('../gateway/metrics.js'),
        import('../gateway/store.js'),
        import('../gateway/admin-server.js'),
        import('../gateway/dashboard-routes.js'),
      ]);
      const logger = createGatewayLogger(config.log);
      const metrics = new GatewayMetrics();
      const store = await openFlowStore(config.store, { log: logger, observer: metrics });
      const gateway = await startGateway(config, {
        store,
        metrics,
        logger,
        policy,
        // The dashboard is served on the admin address, behind the same token.
        startAdmin: withDashboard(startAdminServer),
      });
      await write(
        io.stderr,
        `pathwarden gateway: proxy on ${gateway.address}${gateway.socksAddress ? `, SOCKS5 on ${gateway.socksAddress}` : ''}${gateway.adminAddress ? `, admin on ${gateway.adminAddress}` : ''}\n`,
      );
      const signal = await new Promise<NodeJS.Signals>((resolve) => {
        process.once('SIGTERM', () => resolve('SIGTERM'));
        process.once('SIGINT', () => resolve('SIGINT'));
      });
      await write(io.stderr, `pathwarden gateway: ${signal}, draining\n`);
      await gateway.close();
    });
}
