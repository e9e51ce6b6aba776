// DuckDB's library is loaded only by a process that opens a DuckDB store (store.ts imports
// duckdb.js on use): a JSONL gateway does not carry its ~30 MB of RSS. Checked in a fresh node
// process against the built store module, from the libraries mapped into it (/proc/self/maps).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';
import { needPeers } from '../testing/peers.js';

describe.skipIf(!needPeers('build') || process.platform !== 'linux')('store modules', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-lazy-store-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const built = fileURLToPath(new URL('../../dist/src/store/store.js', import.meta.url));
  const script = join(dir, 'open.mjs');
  writeFileSync(
    script,
    `import { readFileSync } from 'node:fs';
import { openFlowStore } from ${JSON.stringify(built)};
const [kind, path] = process.argv.slice(2);
const store = await openFlowStore({ kind, path, flushIntervalMs: 1000 });
const loaded = readFileSync('/proc/self/maps', 'utf8').includes('libduckdb');
await store.close();
process.stdout.write(String(loaded));
`,
  );
  const loadsDuckDb = (kind: string, file: string): string => {
    const result = spawnSync(process.execPath, [script, kind, join(dir, file)], { encoding: 'utf8' });
    expect(result.status, result.stderr).toBe(0);
    return result.stdout;
  };

  test('a JSONL store does not load DuckDB; a DuckDB store does', () => {
    expect(loadsDuckDb('jsonl', 'flows.jsonl')).toBe('false');
    expect(loadsDuckDb('duckdb', 'flows.duckdb')).toBe('true');
  });
});
