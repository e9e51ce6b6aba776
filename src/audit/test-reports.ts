// Helpers for tests that compare whole audit reports (fast path against general path, several
// jobs against one): the audit inputs among the test fixtures, and an audit's --json report.
// Not used outside tests.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../catalog/load.js';
import { isPathwardenError } from '../errors.js';
import { topologySchema } from '../policy/topology.js';
import { renderJsonReport } from './report-json.js';
import { type AuditOptions, runAudit } from './run-audit.js';
import { builtinPolicy } from './test-support.js';

export const reportTopology = topologySchema.parse({
  expressroute: {
    prefixes: ['13.73.248.0/24', '175.16.199.0/26'],
    proxies: ['10.9.0.1:3128'],
    sourceAddresses: ['10.20.0.5'],
  },
  internet: { proxies: ['10.9.0.2:3128'], sourceAddresses: ['10.20.0.6'] },
  default: 'internet',
});

export const fixtures = join(packageRoot(), 'test', 'fixtures');
/** Every audit input among the fixtures (not code, notes or catalogs). */
export function fixtureInputs(): string[] {
  const files: string[] = [];
  for (const folder of ['samples', 'ingest', 'pcap']) {
    for (const name of readdirSync(join(fixtures, folder)).sort()) {
      const path = join(fixtures, folder, name);
      if (statSync(path).isFile() && !/\.(md|ts|sh|mjs|hex)$/.test(name)) files.push(path);
    }
  }
  return files;
}

/** The --json report of an audit, or the error it stops with. */
export async function jsonOf(options: Partial<AuditOptions> & { inputs: string[] }): Promise<string> {
  try {
    const report = await runAudit({
      policy: builtinPolicy(),
      topology: reportTopology,
      now: () => new Date(0),
      ...options,
    });
    return renderJsonReport(report);
  } catch (error) {
    if (isPathwardenError(error)) return `error ${error.code}: ${error.message}`;
    throw error;
  }
}

/** The fixture folders an audit of everything reads (unrecognised files in them are skipped). */
export function fixtureFolders(): string[] {
  return ['samples', 'ingest', 'pcap'].map((folder) => join(fixtures, folder));
}

/** Writes a dnsmasq log (the fixture's queries) whose last answer gives `host` the address `address`. */
export function writeDnsAnswerLog(path: string, host: string, address: string): void {
  const queries = readFileSync(join(fixtures, 'ingest', 'dnsmasq-queries.log'), 'utf8');
  writeFileSync(path, `${queries}Nov 16 00:00:01 dnsmasq[1]: reply ${host} is ${address}\n`);
}
