// The CLI's bundle (scripts/bundle-cli.ts): the bin imports the young-generation chunk before any
// module of its own, and the worker of `audit --jobs` that the bundle's jobs code starts (the one
// next to it) counts a log as the worker tsc compiled does.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, test } from 'vitest';
import { type JobInit, type JobItem, type PartResult, readItem } from '../audit/jobs.js';
import { builtinPolicy } from '../audit/test-support.js';
import { packageRoot } from '../catalog/builtin.js';
import { emptyTopology } from '../policy/path-resolver.js';
import { needPeers } from '../testing/peers.js';

const chunks = () => join(packageRoot(), 'dist', 'src', 'cli', 'chunks');

/** The bundle's chunk holding `module` (a path under dist/src), from the chunks' source maps. */
function chunkOf(module: string): string | undefined {
  return readdirSync(chunks())
    .filter((file) => file.endsWith('.js.map'))
    .find((file) => {
      const map = join(chunks(), file);
      const { sources } = JSON.parse(readFileSync(map, 'utf8')) as { sources: string[] };
      return sources.some((source) => relative(packageRoot(), resolve(dirname(map), source)) === module);
    });
}

function countInWorker(script: string, init: JobInit, item: JobItem): Promise<PartResult> {
  return new Promise((done, fail) => {
    const worker = new Worker(script);
    // The worker says it is ready (after compiling the policy), then sends the item's counts.
    worker.on('message', (result: PartResult | { ready: true }) => {
      if ('ready' in result) return;
      worker.postMessage(null);
      done(result);
    });
    worker.once('error', fail);
    worker.postMessage(init);
    worker.postMessage(item);
  });
}

describe.skipIf(!needPeers('build'))('the bundled CLI', () => {
  test('main.js imports the young-generation chunk before its other chunks', () => {
    const main = readFileSync(join(packageRoot(), 'dist', 'src', 'cli', 'main.js'), 'utf8');
    const imports = [...main.matchAll(/^import .* from "\.\/chunks\/([^"]+)";$/gm)].map(
      (match) => match[1] as string,
    );
    // The bundler's runtime helpers (plain function definitions) may come first.
    const ours = imports.filter((file) => !file.startsWith('rolldown-runtime'));
    expect(ours[0]).toMatch(/^young-generation-/);
    expect(chunkOf('dist/src/cli/young-generation.js')).toBe(`${ours[0]}.map`);
  });

  test('the jobs code sits next to the bundled worker, which counts as the compiled one does', async () => {
    expect(chunkOf('dist/src/audit/jobs.js')).toBeDefined();
    const worker = join(chunks(), 'audit-worker.js');
    const init: JobInit = {
      catalog: builtinPolicy().catalog,
      topology: emptyTopology,
      limits: { problems: 100 },
    };
    const item: JobItem = {
      index: 0,
      path: join(packageRoot(), 'demo', 'logs', 'squid', 'access.log'),
      name: 'access.log',
      format: 'squid',
    };
    const bundled = await countInWorker(worker, init, item);
    const compiled = await countInWorker(
      join(packageRoot(), 'dist', 'src', 'audit', 'audit-worker.js'),
      init,
      item,
    );
    expect(bundled.lines).toBeGreaterThan(0);
    expect(bundled).toStrictEqual(compiled);
    expect(bundled).toStrictEqual(await readItem(item, builtinPolicy(), init));
  });
});
