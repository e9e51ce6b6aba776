// Build step (`npm run build`, after tsc and compile-catalog): bundles the CLI that tsc compiled
// into a few files, so that a command loads a handful of chunks instead of ~100 modules of
// dist/src and node_modules (docs/performance.md, "Start-up and warm-up, session 5").
// - dist/src/cli/main.js (the bin) is replaced by the bundle's entry; each command module that
//   src/cli/program.ts imports on demand stays a chunk of its own in dist/src/cli/chunks/, so
//   `explain` still loads no YAML parser, zod, logger, database or dashboard code.
// - the worker of `audit --jobs` is a second entry, dist/src/cli/chunks/audit-worker.js, next to
//   the chunk that holds src/audit/jobs.ts (which starts it from there).
// - src/cli/young-generation.ts is a chunk of its own that main.js imports first: it sets V8 flags
//   before the other modules run.
// - packages with native code, wasm, worker files of their own or many optional parts stay in
//   node_modules (external); commander, yaml and zod are plain JavaScript and bundled.
// The rest of dist/src (tsc's output) stays: benchmarks, scripts and tests import it.
import { readFileSync, rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';
import { build } from 'rolldown';

const dist = fileURLToPath(new URL('../src/', import.meta.url));

// The bundle replaces its own input (tsc's main.js): bundling it again would bundle the bundle,
// and chunks of an earlier build would stay beside the new ones and be packed.
if (readFileSync(`${dist}cli/main.js`, 'utf8').includes('./chunks/')) {
  process.stderr.write(
    'bundle-cli: dist/src/cli/main.js is already the bundle; run `npm run build` (it compiles with tsc first)\n',
  );
  process.exit(1);
}
rmSync(`${dist}cli/chunks`, { recursive: true, force: true });

/** npm packages the bundle leaves in node_modules. */
const externalPackages =
  /^(@duckdb\/|@clickhouse\/|pino(-|$|\/)|prom-client|quickjs-wasi|pac-resolver|undici|thread-stream)/;
const builtins = new Set(builtinModules);
const coreModules =
  /[\\/]dist[\\/]src[\\/](errors|catalog[\\/](builtin|model|profiles)|match[\\/](ip|host|host-index|prefix-table)|policy[\\/](policy|target|serialize|verdict)|cli[\\/](io|options|policy-cache))\.js$/;

/**
 * commander requires node:child_process when it loads, for subcommands that are executables of
 * their own; pathwarden has none, and loading it (with net, dgram, the stream classes and their
 * bindings) cost every command about 9 ms of CPU before its first line (docs/performance.md,
 * "Start-up, first flows and the report, session 8"). The bundle loads it at the first spawn.
 */
let childProcessMadeLazy = false;
const lazyChildProcess = {
  name: 'lazy-child-process',
  transform(code: string, id: string): { code: string; map: null } | null {
    if (!/[\\/]commander[\\/]lib[\\/]command\.js$/.test(id)) return null;
    const eager = "const childProcess = require('node:child_process');";
    if (
      !code.includes(eager) ||
      code.split('childProcess.').length - 1 !== code.split('childProcess.spawn(').length - 1
    )
      throw new Error(
        'bundle-cli: commander uses node:child_process otherwise than by spawn(); update lazyChildProcess',
      );
    childProcessMadeLazy = true;
    // The replacement keeps the line, so the file's line mappings hold; `map: null` says so (a bare
    // string made rolldown drop command.js from the chunk's source map).
    return {
      code: code.replace(
        eager,
        "const childProcess = { spawn: (...args) => require('node:child_process').spawn(...args) };",
      ),
      map: null,
    };
  },
  // A commander that moved or renamed the file would otherwise bring the eager load back silently.
  buildEnd(error?: Error): void {
    if (error === undefined && !childProcessMadeLazy)
      throw new Error('bundle-cli: commander/lib/command.js was not bundled; update lazyChildProcess');
  },
};

const started = Date.now();
const result = await build({
  input: {
    main: `${dist}cli/main.js`,
    'audit-worker': `${dist}audit/audit-worker.js`,
  },
  platform: 'node',
  plugins: [lazyChildProcess],
  external: (id) => id.startsWith('node:') || builtins.has(id) || externalPackages.test(id),
  logLevel: 'warn',
  output: {
    dir: `${dist}cli`,
    format: 'esm',
    entryFileNames: (chunk) => (chunk.name === 'main' ? 'main.js' : 'chunks/[name].js'),
    chunkFileNames: 'chunks/[name]-[hash].js',
    sourcemap: true,
    // The maps name each chunk's modules (src/cli/startup.test.ts reads them); tsc's maps hold the rest.
    sourcemapExcludeSources: true,
    codeSplitting: {
      groups: [
        { name: 'young-generation', test: /[\\/]dist[\\/]src[\\/]cli[\\/]young-generation\.js$/ },
        // What every command that decides paths loads (explain, audit, generate, the gateway): one
        // file instead of a dozen small ones. It must import nothing heavy (src/cli/startup.test.ts).
        { name: 'core', test: coreModules },
      ],
    },
  },
});
const files = result.output.filter((file) => file.type === 'chunk');
process.stdout.write(
  `bundled the CLI into ${files.length} files in dist/src/cli (${Date.now() - started} ms)\n`,
);
