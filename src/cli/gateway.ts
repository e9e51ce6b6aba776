// `pathwarden gateway`: runs the egress gateway of a config file until SIGTERM / SIGINT, or only
// validates the config with --check. The wiring lives in src/server/gateway-server.ts.
import { Command } from 'commander';
import { resolveCatalog } from '../catalog/load.js';
import { selectProfile } from '../catalog/profiles.js';
import { PathwardenError } from '../errors.js';
import { type GatewayConfig, loadGatewayConfig } from '../gateway/config.js';
import { descriptorLimit, descriptorShortfall, descriptorWarning } from '../gateway/connection-gate.js';
import { isLocalAddress } from '../gateway/local-address.js';
import { type CliIo, write } from './io.js';
import { compilePolicy } from './policy-cache.js';
import { letYoungGenerationGrow } from './young-generation.js';

interface GatewayOptions {
  config?: string;
  check?: boolean;
  demo?: boolean;
  listen?: string;
  admin?: string;
  demoRequests?: string;
}

export function gatewayCommand(io: CliIo, _setExit: (code: number) => void): Command {
  return new Command('gateway')
    .description(
      'run the egress gateway: a forward proxy that sends each connection out on its catalog path and fails closed',
    )
    .option('--config <file>', 'gateway config (YAML), see docs/gateway.md')
    .option('--check', 'validate the config and the catalogs it names, then exit')
    .option(
      '--demo',
      'no config: local origins for a few catalog hosts, both egresses on loopback, a client trickle filling the dashboard',
    )
    .option('--listen <host:port>', 'with --demo: the proxy address (default 127.0.0.1:3128)')
    .option(
      '--admin <host:port>',
      'with --demo: the admin API and dashboard address (default 127.0.0.1:9180)',
    )
    .option(
      '--demo-requests <n>',
      'with --demo: requests the client trickle sends, one a second (default 600)',
    )
    .addHelpText(
      'after',
      `
Examples:
  pathwarden gateway --demo
  pathwarden gateway --config examples/gateway.yaml --check
  pathwarden gateway --config examples/gateway.yaml`,
    )
    .action(async (options: GatewayOptions) => {
      if (options.demo === (options.config !== undefined)) {
        throw new PathwardenError(
          'PW_ERR_USAGE',
          'pathwarden gateway needs exactly one of --config <file> and --demo',
        );
      }
      if (!options.demo && (options.listen || options.admin || options.demoRequests)) {
        throw new PathwardenError('PW_ERR_USAGE', '--listen, --admin and --demo-requests go with --demo');
      }
      const requests = options.demoRequests === undefined ? undefined : Number(options.demoRequests);
      if (requests !== undefined && !(Number.isInteger(requests) && requests >= 0)) {
        throw new PathwardenError(
          'PW_ERR_USAGE',
          `--demo-requests "${options.demoRequests}" is not a whole number`,
        );
      }
      const demo = options.demo
        ? await (await import('../gateway/demo.js')).startDemo({
            listen: options.listen,
            admin: options.admin,
            requests,
          })
        : undefined;
      const source = options.config ?? 'the demo';
      const config = demo ? demo.config : loadGatewayConfig(source);
      if (config.limits.youngGeneration === 'grow') letYoungGenerationGrow();
      const policy = compilePolicy(
        selectProfile(resolveCatalog({ files: config.catalog }).catalog, config.profile),
      );
      for (const warning of await egressWarnings(config))
        await write(io.stderr, `pathwarden: warning: ${warning}\n`);
      if (options.check) {
        await write(
          io.stdout,
          `${source}: valid (proxy ${config.listen}, admin ${config.admin}, ${policy.catalog.rules.length} catalog rules)\n`,
        );
        await demo?.close();
        return;
      }
      // Loaded here, not at the top: every other command (and --check) stays free of DuckDB,
      // prom-client and the proxy.
      const { startGatewayServer } = await import('../server/gateway-server.js');
      const gateway = await startGatewayServer(config, policy);
      // The gateway still starts (it lowers its connection limit to fit, fail-safe) and its log
      // says so at `warn`; this says it on stderr when that log line does not land there already.
      const shortfall = descriptorShortfall(config.limits.maxConnections, descriptorLimit());
      if (shortfall && !logWarnsOnStderr(config))
        await write(io.stderr, `pathwarden: warning: ${descriptorWarning(shortfall)}\n`);
      await write(
        io.stderr,
        `pathwarden gateway: proxy on ${gateway.address}${gateway.socksAddress ? `, SOCKS5 on ${gateway.socksAddress}` : ''}${gateway.adminAddress ? `, admin on ${gateway.adminAddress}` : ''}\n`,
      );
      if (demo) {
        await write(io.stderr, demo.instructions(gateway.address, gateway.adminAddress));
        demo.startTrickle(gateway.address);
      }
      const signal = await new Promise<NodeJS.Signals>((resolve) => {
        process.once('SIGTERM', () => resolve('SIGTERM'));
        process.once('SIGINT', () => resolve('SIGINT'));
      });
      await write(io.stderr, `pathwarden gateway: ${signal}, draining\n`);
      await gateway.close();
      await demo?.close();
    });
}

/** True when the gateway's JSON log goes to standard error at a level that keeps its warnings. */
function logWarnsOnStderr(config: GatewayConfig): boolean {
  return config.log.file === undefined && config.log.level !== 'error' && config.log.level !== 'silent';
}

/** Egress source addresses this host does not have: every flow on that path would fail to dial. */
async function egressWarnings(config: GatewayConfig): Promise<string[]> {
  const warnings: string[] = [];
  for (const path of ['expressroute', 'internet'] as const) {
    const egress = config.egress[path];
    if ('localAddress' in egress && !(await isLocalAddress(egress.localAddress))) {
      warnings.push(
        `egress.${path}.localAddress ${egress.localAddress} is not an address of this host: every flow on this path will fail with PW_GW_UPSTREAM_REFUSED`,
      );
    }
  }
  return warnings;
}
