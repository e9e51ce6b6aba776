// Build step (`npm run build`, after tsc): validates catalog/powerbi.yaml and writes the result as
// dist/src/catalog/powerbi.compiled.json, which `explain` and the other commands load without
// YAML parsing or schema validation (src/catalog/builtin.ts). An invalid catalog fails the build.
import { writeFileSync } from 'node:fs';
import { compiledCatalogName } from '../src/catalog/builtin.js';
import { compileBuiltinCatalog } from '../src/catalog/load.js';
import { formatProblem, isPathwardenError } from '../src/errors.js';

const target = new URL(`../src/catalog/${compiledCatalogName}`, import.meta.url);
try {
  const compiled = compileBuiltinCatalog();
  writeFileSync(target, `${JSON.stringify(compiled)}\n`);
  process.stdout.write(
    `compiled ${compiled.catalog.rules.length} rules to dist/src/catalog/${compiledCatalogName}\n`,
  );
} catch (error) {
  if (!isPathwardenError(error)) throw error;
  process.stderr.write(`compile-catalog: ${error.message}\n`);
  for (const problem of error.problems) process.stderr.write(`  ${formatProblem(problem)}\n`);
  process.exitCode = 1;
}
