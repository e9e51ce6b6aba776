// The gateway process keeps V8's young generation at its initial size and scavenges without helper
// threads (young-generation.ts): checked
// in a fresh node process that imports the built module with a gateway command line and then
// allocates like a busy proxy (many short-lived objects, some surviving a while). The same process
// with another command line shows the default growth, so the test fails if the flag stops working.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';
import { needPeers } from '../testing/peers.js';
import { runsGateway } from './young-generation.js';

test('only a running gateway caps the young generation', () => {
  expect(runsGateway(['gateway', '--config', 'gateway.yaml'])).toBe(true);
  expect(runsGateway(['gateway', '--demo'])).toBe(true);
  expect(runsGateway(['gateway', '--config', 'gateway.yaml', '--check'])).toBe(false);
  expect(runsGateway(['gateway', '--help'])).toBe(false);
  expect(runsGateway(['explain', 'gateway'])).toBe(false);
  expect(runsGateway(['audit', 'access.log'])).toBe(false);
  expect(runsGateway([])).toBe(false);
});

describe.skipIf(!needPeers('build'))('young generation of the built CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-young-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const built = fileURLToPath(new URL('../../dist/src/cli/young-generation.js', import.meta.url));
  const script = join(dir, 'allocate.mjs');
  writeFileSync(
    script,
    `import { letYoungGenerationGrow } from ${JSON.stringify(built)};
import { getHeapSpaceStatistics } from 'node:v8';
if (process.env.PW_TEST_GROW === '1') letYoungGenerationGrow();
const kept = [];
for (let i = 0; i < 3_000_000; i++) {
  const item = { index: i, text: 'item ' + i };
  if (i % 10 === 0) kept.push(item);
  if (kept.length > 50_000) kept.length = 0;
}
const space = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
process.stdout.write(String(space.space_size));
`,
  );
  const newSpaceMb = (argv: string[], grow = false): number => {
    const result = spawnSync(process.execPath, [script, ...argv], {
      encoding: 'utf8',
      env: { ...process.env, PW_TEST_GROW: grow ? '1' : '0' },
    });
    expect(result.status, result.stderr).toBe(0);
    return Number(result.stdout) / 2 ** 20;
  };

  test('a gateway process stays at two 1 MiB semi-spaces; other commands grow', () => {
    expect(newSpaceMb(['gateway', '--config', 'gateway.yaml'])).toBeLessThanOrEqual(2);
    expect(newSpaceMb(['audit', 'access.log'])).toBeGreaterThan(2);
  });

  test('a gateway process scavenges on the main thread alone; other commands in parallel', () => {
    // --trace-parallel-scavenge prints one line per scavenging task, --trace-gc one per scavenge.
    const tasksPerScavenge = (argv: string[]): number => {
      const result = spawnSync(
        process.execPath,
        ['--trace-parallel-scavenge', '--trace-gc', script, ...argv],
        { encoding: 'utf8', env: { ...process.env, PW_TEST_GROW: '1' } },
      );
      expect(result.status, result.stderr).toBe(0);
      const tasks = result.stdout.match(/scavenge\[0x[0-9a-f]+\]: time=/g)?.length ?? 0;
      const scavenges = result.stdout.match(/ Scavenge /g)?.length ?? 0;
      expect(scavenges).toBeGreaterThan(0);
      return tasks / scavenges;
    };
    expect(tasksPerScavenge(['gateway', '--config', 'gateway.yaml'])).toBe(1);
    expect(tasksPerScavenge(['audit', 'access.log'])).toBeGreaterThan(1);
  });

  test('limits.youngGeneration: grow gives the growth back', () => {
    expect(newSpaceMb(['gateway', '--config', 'gateway.yaml'], true)).toBeGreaterThan(2);
  });
});
