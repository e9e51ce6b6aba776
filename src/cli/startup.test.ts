// `pathwarden explain` loads only what it needs (docs/performance.md, "Start-up"): no YAML parser,
// no zod, no logger, no database, no HTTP client, no dashboard build, and none of the other
// commands' modules (checked on the build by listing every module the process loads: the files of
// the CLI's bundle stand for the modules their source maps name, scripts/bundle-cli.ts); and what it
// answers from the compiled catalog equals what the validating path answers, under every profile.
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { packageRoot } from '../catalog/builtin.js';
import { run } from '../generate/testing/processes.js';
import { runPathwarden } from '../generate/testing/run-cli.js';
import { needPeers } from '../testing/peers.js';

const ready = needPeers('build');

// A module loader hook that reports every module URL on stderr (hooks run on their own thread).
const hook = `export async function load(url, context, next) { process._rawDebug('loaded ' + url); return next(url, context); }`;
const register = `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hook)}`)});`;

/** The files a command line loads (package-relative), and the modules in them. */
async function loadedFiles(...argv: string[]): Promise<{ files: string[]; modules: string[] }> {
  const main = join(packageRoot(), 'dist', 'src', 'cli', 'main.js');
  const result = await run(process.execPath, [
    '--import',
    `data:text/javascript,${encodeURIComponent(register)}`,
    main,
    ...argv,
  ]);
  expect(result.code, result.stderr).toBe(0);
  const urls = [...result.stderr.matchAll(/^loaded (file:\S+)$/gm)].map((match) => match[1] as string);
  const files = urls.map((url) => relative(packageRoot(), fileURLToPath(url)));
  const modules = files.flatMap((file) => {
    if (!/^dist\/src\/cli\/(main|chunks\/.*)\.js$/.test(file)) return [file];
    // The bundler's runtime helpers come from no module (and have no map).
    if (/\/rolldown-runtime-[^/]+\.js$/.test(file)) return [];
    const map = join(packageRoot(), `${file}.map`);
    const { sources } = JSON.parse(readFileSync(map, 'utf8')) as { sources: string[] };
    return sources.map((source) => relative(packageRoot(), resolve(dirname(map), source)));
  });
  return { files, modules };
}

async function loadedModules(...argv: string[]): Promise<string[]> {
  const { modules } = await loadedFiles(...argv);
  expect(modules).toContain('dist/src/cli/explain.js');
  return modules;
}

const heavy =
  /node_modules\/(yaml|zod|pino|@duckdb|undici|prom-client|@clickhouse|quickjs-wasi|pac-resolver)\//;

describe.skipIf(!ready)('explain start-up', () => {
  test.each([
    ['a host', ['explain', 'app.powerbi.com']],
    ['an address, as JSON, under a profile', ['explain', '--json', '--profile', 'seed', '20.37.195.66']],
  ])('explain of %s loads no heavy dependency and no other command', async (_name, argv) => {
    const loaded = await loadedModules(...argv);
    expect(loaded.filter((url) => heavy.test(url))).toEqual([]);
    expect(
      loaded.filter(
        (url) =>
          url.startsWith('dist/web') ||
          /dist\/src\/(audit|ingest|store|gateway|admin|generate|lab|server)\//.test(url),
      ),
    ).toEqual([]);
    expect(
      loaded.filter((url) =>
        /dist\/src\/cli\/(audit|catalog|dashboard|gateway|generate|lab|store)\.js$/.test(url),
      ),
    ).toEqual([]);
    expect(loaded).toContain('dist/src/catalog/builtin.js');
    expect(loaded).not.toContain('dist/src/catalog/load.js');
  });

  test('the bin is a bundle: explain and audit each load a few files of it', async () => {
    const explain = await loadedFiles('explain', 'app.powerbi.com');
    expect(explain.files).toContain('dist/src/cli/main.js');
    expect(explain.files.length).toBeLessThanOrEqual(20);
    expect(explain.modules.length).toBeGreaterThan(explain.files.length);
    const audit = await loadedFiles('audit', '--demo', '--json');
    expect(
      audit.files.filter((file) => !file.startsWith('dist/src/cli/')),
      'outside the bundle',
    ).toEqual([]);
    expect(audit.files.length).toBeLessThanOrEqual(30);
    expect(audit.modules).toContain('dist/src/audit/run-audit.js');
  });

  // Node's own modules that only some runs need (docs/performance.md, "Start-up, first flows and
  // the report, session 8"): commander's child_process (loaded at a subcommand's spawn, through a
  // rewrite in scripts/bundle-cli.ts), v8 (a running gateway), zlib (a gzipped input).
  test.each([
    ['explain', ['explain', 'app.powerbi.com']],
    [
      'an audit of a plain log',
      ['audit', '--json', join(packageRoot(), 'demo', 'logs', 'squid', 'access.log')],
    ],
  ])('%s loads neither node:child_process, node:v8 nor node:zlib', async (_name, argv) => {
    const main = join(packageRoot(), 'dist', 'src', 'cli', 'main.js');
    const report = `process.on('exit', () => process._rawDebug('builtins ' + process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).join(',')));`;
    const result = await run(process.execPath, [
      '--import',
      `data:text/javascript,${encodeURIComponent(report)}`,
      main,
      ...argv,
    ]);
    const builtins = /^builtins (.*)$/m.exec(result.stderr)?.[1]?.split(',') ?? [];
    expect(builtins, result.stderr).toContain('NativeModule fs');
    expect(builtins.filter((name) => /^NativeModule (child_process|v8|zlib)$/.test(name))).toEqual([]);
  });

  test('a --catalog file still goes through the parser and validator', async () => {
    const loaded = await loadedModules(
      'explain',
      '--catalog',
      join(packageRoot(), 'examples', 'my-catalog.yaml'),
      'app.powerbi.com',
    );
    expect(loaded).toContain('dist/src/catalog/load.js');
    expect(loaded.some((url) => url.startsWith('node_modules/zod/'))).toBe(true);
  });

  // The built explain answers from the compiled catalog (src/catalog/builtin.ts); in-process from
  // src/ there is no compiled file, so the YAML is parsed and validated: both must agree.
  test('explain from the build answers as the validated catalog does, under every profile', async () => {
    const main = join(packageRoot(), 'dist', 'src', 'cli', 'main.js');
    const targets = [
      'app.powerbi.com',
      'api.powerbi.com',
      'contoso.powerbi.com',
      'content.powerapps.com',
      'maxcdn.bootstrapcdn.com',
      'tenant-api.privatelink.analysis.windows.net',
      '13.73.248.4',
      '20.37.195.66',
      'unknown.example',
    ];
    for (const profile of ['seed', 'current', 'private-link']) {
      const argv = ['explain', '--json', '--profile', profile, ...targets];
      const built = await run(process.execPath, [main, ...argv]);
      // In-process from src/, where there is no compiled file: the YAML is parsed and validated.
      const parsed = await runPathwarden(...argv);
      expect(built.code, built.stderr).toBe(0);
      expect(parsed.code).toBe(0);
      expect(JSON.parse(built.stdout), profile).toStrictEqual(JSON.parse(parsed.stdout));
    }
  });
});
