// runLab(): checks the machine, builds the lab, runs the scenarios, proves the seed's statements
// and always tears the lab down (also on SIGINT / SIGTERM) unless asked to keep it.
import { resolveCatalog } from '../catalog/load.js';
import { PathwardenError } from '../errors.js';
import { LabEnvironment } from './environment.js';
import { checkPrerequisites } from './prerequisites.js';
import { proveStatements, type StatementProof } from './proof.js';
import {
  type ScenarioContext,
  type ScenarioName,
  type ScenarioResult,
  scenarioNames,
  scenarios,
} from './scenarios.js';

export interface LabOptions {
  scenarios?: readonly ScenarioName[];
  /** Leave namespaces and processes up after the run (remove them with `lab down`). */
  keep?: boolean;
  outDir?: string;
  /** User catalog files laid over the built-in one, as `--catalog` does elsewhere. */
  catalogs?: readonly string[];
  log?: (line: string) => void;
  mutatePac?: ScenarioContext['mutatePac'];
}

export interface LabReport {
  passed: boolean;
  scenarios: ScenarioResult[];
  statements: StatementProof[];
  /** Lab id (namespace suffix), output folder, wall time. */
  lab: { id: string; dir: string; ms: number; kept: boolean };
}

export function parseScenarios(names: readonly string[] | undefined): ScenarioName[] {
  if (!names || names.length === 0) return [...scenarioNames];
  for (const name of names) {
    if (!(scenarioNames as readonly string[]).includes(name))
      throw new PathwardenError(
        'PW_ERR_USAGE',
        `unknown scenario "${name}" (expected ${scenarioNames.join(', ')})`,
      );
  }
  return [...new Set(names)] as ScenarioName[];
}

export async function runLab(options: LabOptions = {}): Promise<LabReport> {
  const selected = parseScenarios(options.scenarios);
  const prerequisites = checkPrerequisites({ needSquid: selected.includes('pac-only') });
  if (!prerequisites.ok) {
    throw new PathwardenError(
      'PW_ERR_LAB_PREREQUISITES',
      `the lab cannot run here: ${prerequisites.problems.join('; ')}`,
    );
  }
  const started = Date.now();
  const userCatalogs = options.catalogs ?? [];
  const base = resolveCatalog({ files: userCatalogs }).catalog;
  const env = new LabEnvironment({ outDir: options.outDir, catalog: base, userCatalogs, log: options.log });
  const onSignal = (signal: NodeJS.Signals) => {
    options.log?.(`lab ${env.naming.id}: ${signal}, tearing down`);
    void env.down().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  const onExit = () => env.killNow();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', onExit);
  const results: ScenarioResult[] = [];
  try {
    await env.up();
    const catalog = env.catalog;
    const ctx: ScenarioContext = {
      env,
      policy: env.policy,
      userCatalogs,
      mutatePac: options.mutatePac,
    };
    for (const name of selected) {
      options.log?.(`lab ${env.naming.id}: scenario ${name}`);
      const result = await scenarios[name](ctx);
      options.log?.(
        `lab ${env.naming.id}: scenario ${name} ${result.passed ? 'passed' : 'FAILED'} in ${result.ms} ms`,
      );
      results.push(result);
    }
    return {
      passed: results.every((r) => r.passed),
      scenarios: results,
      statements: proveStatements(catalog, results),
      lab: { id: env.naming.id, dir: env.dir, ms: Date.now() - started, kept: options.keep === true },
    };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', onExit);
    if (options.keep) {
      options.log?.(
        `lab ${env.naming.id}: kept up (namespaces ${Object.values(env.naming.ns).join(', ')}); remove with \`pathwarden lab down\``,
      );
    } else {
      await env.down();
    }
  }
}
