// The bundled demo data set: the committed copy must be what the generator writes (so it cannot go
// stale), and auditing it must give exactly the verdict counts and leak evidence it was built with.
// The second part runs the real ingest parsers: it fails when one reads a standard format
// differently from the generator (see demo/README.md for what each file holds).
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { PassThrough } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runCli } from '../cli/program.js';
import type { AuditReport } from './audit-report.js';
import { type DemoBundle, generateDemo, writeDemo } from './demo/generate.js';
import { demoDir } from './demo/location.js';

let bundle: DemoBundle;
let dir: string;

beforeAll(() => {
  bundle = generateDemo();
  dir = mkdtempSync(join(tmpdir(), 'pathwarden-demo-'));
  writeDemo(bundle, dir);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function filesUnder(root: string): string[] {
  const out: string[] = [];
  const walk = (path: string) => {
    for (const entry of readdirSync(path).sort()) {
      const child = join(path, entry);
      if (statSync(child).isDirectory()) walk(child);
      else out.push(relative(root, child).split(sep).join('/'));
    }
  };
  walk(root);
  return out;
}

const byEvidence = (a: { evidence: string }, b: { evidence: string }) =>
  a.evidence < b.evidence ? -1 : a.evidence > b.evidence ? 1 : 0;

/** gzip output may differ between zlib versions for the same input: compare what it holds. */
function contentOf(path: string): Buffer {
  const bytes = readFileSync(path);
  return path.endsWith('.gz') ? gunzipSync(bytes) : bytes;
}

describe('demo data set', () => {
  test('the committed demo/ is exactly what scripts/make-demo.ts generates', () => {
    const committed = demoDir();
    const generated = filesUnder(dir);
    // demo/gateway/ holds the certificate of `gateway --demo`, not audit data: make-demo leaves it alone.
    const committedData = filesUnder(committed).filter((path) => !path.startsWith('gateway/'));
    expect(committedData, 'run: npm run build && node dist/scripts/make-demo.js').toEqual(generated);
    for (const path of generated) {
      expect(contentOf(join(committed, path)).equals(contentOf(join(dir, path))), `${path} is stale`).toBe(
        true,
      );
    }
  });

  test('mixes every input format and stays small', () => {
    expect(new Set(bundle.files.map((file) => file.format))).toEqual(
      new Set(['squid', 'zeek', 'dns', 'har', 'pcap', 'nsg', 'vnet', 'azfw', 'vpc', 'csv']),
    );
    const size = bundle.files.reduce((sum, file) => sum + file.content.length, 0);
    expect(size).toBeLessThan(1_000_000);
    // Every verdict occurs, so every part of the reports has something to show.
    for (const count of Object.values(bundle.verdicts)) expect(count).toBeGreaterThan(0);
  });

  test('pathwarden audit --demo finds exactly the expected verdicts and leaks', async () => {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = '';
    let err = '';
    stdout.on('data', (chunk) => {
      out += String(chunk);
    });
    stderr.on('data', (chunk) => {
      err += String(chunk);
    });
    const code = await runCli(['audit', '--demo', '--json'], { stdin: new PassThrough(), stdout, stderr });
    expect(err).toBe('');
    expect(code).toBe(0);
    const report = JSON.parse(out) as AuditReport;
    expect(report.inputs.filter((input) => input.status !== 'read')).toEqual([]);
    expect(report.verdicts).toEqual(bundle.verdicts);
    const leaks = report.findings.leaks.items
      .map((leak) => ({
        evidence: leak.evidence,
        host: leak.host,
        actualPathEvidence: leak.actualPathEvidence,
        rule: leak.rule,
      }))
      .sort(byEvidence);
    expect(leaks).toEqual([...bundle.leaks].sort(byEvidence));
    expect(report.errors.total).toBe(1);
    expect(report.errors.problems[0]).toMatchObject({ file: 'demo/logs/squid/access.log' });
    expect(report.topology.file).toBe('demo/topology.yaml');
  });
});
