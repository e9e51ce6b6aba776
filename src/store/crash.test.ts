// The durability promise, tested the hard way: a child process appends flow records without pause,
// is killed with SIGKILL, and the reopened store must hold every record appended more than one
// flush interval before the kill.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openFlowStore } from './store.js';

// The default of the gateway config.
const flushIntervalMs = 1000;

// The child appends 20 records every 10 ms and prints, after each round, the time and how many
// records it has appended so far.
const childScript = `
const [storeModule, kind, path, flushIntervalMs] = process.argv.slice(2);
const { openFlowStore } = await import(storeModule);
const log = { warn() {}, error(details, message) { process.stderr.write(message + '\\n'); } };
const store = await openFlowStore({ kind, path, flushIntervalMs: Number(flushIntervalMs) }, { log });
let appended = 0;
setInterval(() => {
  for (let round = 0; round < 20; round++) {
    appended++;
    store.append({
      start: Date.now(), end: Date.now() + 5, origin: { kind: 'gateway' }, client: '10.0.0.1',
      host: 'api.powerbi.com', sni: 'api.powerbi.com', httpHost: null, destination: '20.0.0.1', port: 443,
      protocol: 'tls', component: 'saas', bytesUp: appended, bytesDown: 2 * appended,
      sourceAddress: '127.0.0.2', upstream: null, connectionId: 'c' + appended, actualPath: 'expressroute',
      actualPathEvidence: 'source 127.0.0.2', expectedPath: 'expressroute', verdict: 'ok',
      ruleId: 'paas.rest-api', reason: 'test', egressPath: 'expressroute', outcome: 'forwarded',
    });
  }
  process.stdout.write(JSON.stringify({ t: Date.now(), appended }) + '\\n');
}, 10);
`;

describe('flow store durability across kill -9', () => {
  let dir: string;
  let storeModule: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'pathwarden-crash-'));
    // The child runs plain Node: compile the store and what it imports (no type check; tsc -p
    // checks the types) into the temp folder, with node_modules reachable from there.
    const root = fileURLToPath(new URL('../..', import.meta.url));
    execFileSync(
      process.execPath,
      [
        join(root, 'node_modules', 'typescript', 'bin', 'tsc'),
        '--noCheck',
        '--outDir',
        join(dir, 'out'),
        '--rootDir',
        join(root, 'src'),
        '--module',
        'nodenext',
        '--moduleResolution',
        'nodenext',
        '--target',
        'es2023',
        '--skipLibCheck',
        '--resolveJsonModule',
        '--types',
        'node',
        join(root, 'src', 'store', 'store.ts'),
      ],
      { cwd: root, stdio: 'pipe' },
    );
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
    writeFileSync(join(dir, 'child.mjs'), childScript);
    storeModule = pathToFileURL(join(dir, 'out', 'store', 'store.js')).href;
  }, 120_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test.each(['duckdb', 'jsonl'] as const)(
    '%s: every record older than the flush interval survives SIGKILL',
    async (kind) => {
      const path = join(dir, `flows-${kind}`);
      const child = spawn(
        process.execPath,
        [join(dir, 'child.mjs'), storeModule, kind, path, String(flushIntervalMs)],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      const reports: { t: number; appended: number }[] = [];
      let stderr = '';
      child.stderr?.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
        reports.push(JSON.parse(line) as { t: number; appended: number });
      });
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      try {
        await waitFor(
          () => reports.length > 0,
          20_000,
          () => `child did not start: ${stderr}`,
        );
        // Several flush intervals of continuous appends, so the kill lands in the middle of the flow.
        await new Promise((resolve) => setTimeout(resolve, 3 * flushIntervalMs + 137));
        const killedAt = Date.now();
        child.kill('SIGKILL');
        await exited;
        expect(child.signalCode).toBe('SIGKILL');
        const cutoff = killedAt - flushIntervalMs;
        const promised = reports.filter((report) => report.t <= cutoff).at(-1)?.appended ?? 0;
        const appended = reports.at(-1)?.appended ?? 0;
        expect(promised).toBeGreaterThan(100);

        const store = await openFlowStore({ kind, path, flushIntervalMs });
        try {
          const page = await store.query({ limit: 1 });
          expect(
            page.total,
            `appended ${promised} more than ${flushIntervalMs} ms before the kill`,
          ).toBeGreaterThanOrEqual(promised);
          expect(page.total).toBeLessThanOrEqual(appended);
          // Whole batches or nothing: the records kept are exactly ids 1..total.
          expect(page.flows[0]?.id).toBe(page.total);
          expect(page.flows[0]?.bytesUp).toBe(page.total);
        } finally {
          await store.close();
        }
      } finally {
        stop(child);
      }
    },
    60_000,
  );
});

function stop(child: ChildProcess): void {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

async function waitFor(condition: () => boolean, timeoutMs: number, message: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(message());
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
