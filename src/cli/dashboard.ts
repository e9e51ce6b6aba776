// `pathwarden dashboard --store FILE|clickhouse://...`: serves the dashboard and the admin API read-only over a stored
// flow file until interrupted (Ctrl-C or SIGTERM).
import { Command } from 'commander';
import { type CliIo, write } from './io.js';
import {
  type CatalogOptions,
  catalogOption,
  loadProfileFromOptions,
  noBuiltinOption,
  profileOption,
} from './options.js';

interface DashboardOptions extends CatalogOptions {
  store: string;
  listen: string;
  token?: string;
}

export function dashboardCommand(io: CliIo, _setExit: (code: number) => void): Command {
  return new Command('dashboard')
    .description("serve the dashboard read-only over a stored flow database or an audit's NDJSON output")
    .requiredOption(
      '--store <file|url>',
      'a gateway flow store (DuckDB or JSONL), `audit --ndjson` output, or clickhouse://HOST:PORT/DATABASE[?table=flows]',
    )
    .option('--listen <host:port>', 'address to serve on (port 0 picks a free one)', '127.0.0.1:9181')
    .option(
      '--token <token>',
      'bearer token the dashboard and API require (default: $PATHWARDEN_ADMIN_TOKEN); needed off loopback',
    )
    .addOption(catalogOption())
    .addOption(noBuiltinOption())
    .addOption(profileOption())
    .addHelpText(
      'after',
      `
Examples:
  pathwarden dashboard --store pathwarden-flows.duckdb
  pathwarden dashboard --store clickhouse://127.0.0.1:8123/pathwarden?table=flows
  pathwarden audit squid access.log --ndjson > flows.ndjson && pathwarden dashboard --store flows.ndjson`,
    )
    .action(async (options: DashboardOptions) => {
      const catalog = (await loadProfileFromOptions(options)).catalog;
      // Loaded here, not at the top: the other commands stay free of DuckDB and the HTTP server.
      const { startStoredDashboard } = await import('../admin/dashboard/serve.js');
      const running = await startStoredDashboard({
        file: options.store,
        listen: options.listen,
        token: options.token ?? process.env.PATHWARDEN_ADMIN_TOKEN,
        catalog,
      });
      const { source } = running;
      const what = source.imported
        ? `${source.imported.records} records from audit NDJSON${source.imported.badLines.length > 0 ? ` (${source.imported.badLines.length} lines skipped: not flow records, e.g. line ${source.imported.badLines[0]})` : ''}`
        : `${source.kind} flow store`;
      await write(io.stdout, `pathwarden dashboard: ${options.store} (${what}) on ${running.url}\n`);
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await running.close();
    });
}
