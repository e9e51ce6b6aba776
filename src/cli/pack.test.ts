// What `npm pack` makes must work on its own: the tarball is installed into an empty folder (from
// the npm cache, --prefer-offline) and its `pathwarden` bin runs explain, audit --demo,
// generate pac, and gateway --demo with the dashboard on the admin address, from that folder, far
// from this checkout. A file missing from package.json "files" (the catalog, dist/web, the demo
// data, the demo certificate) fails here.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { packageRoot } from '../catalog/load.js';
import { run } from '../generate/testing/processes.js';
import { needPeers } from '../testing/peers.js';

const ready = needPeers('build');

function get(url: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        body += chunk;
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

describe.skipIf(!ready)('npm pack, installed into an empty folder', () => {
  let dir: string;
  let app: string;
  let bin: string;
  let gateway: ChildProcess | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pw-pack-'));
    const packed = await run('npm', ['pack', '--silent', '--pack-destination', dir], undefined, {
      cwd: packageRoot(),
    });
    expect(packed.code, packed.stderr).toBe(0);
    const tarball = readdirSync(dir).find((name) => name.endsWith('.tgz'));
    expect(tarball).toBeDefined();
    app = join(dir, 'app');
    rmSync(app, { recursive: true, force: true });
    await run('mkdir', ['-p', app]);
    writeFileSync(
      join(app, 'package.json'),
      '{ "name": "pack-check", "version": "1.0.0", "private": true }\n',
    );
    const installed = await run(
      'npm',
      ['install', '--prefer-offline', '--no-audit', '--no-fund', join(dir, tarball as string)],
      undefined,
      { cwd: app },
    );
    expect(installed.code, installed.stderr).toBe(0);
    bin = join(app, 'node_modules', '.bin', 'pathwarden');
  }, 300_000);

  afterAll(async () => {
    if (gateway && gateway.exitCode === null) {
      const exited = new Promise((resolve) => gateway?.once('exit', resolve));
      gateway.kill('SIGKILL');
      await exited;
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  test("the tarball holds the build of today's sources only (no stale dist files), no tests, no benchmarks", () => {
    const files = readdirSync(join(app, 'node_modules', 'pathwarden'), { recursive: true }).map(String);
    const built = files.filter((file) => file.startsWith('dist/src/') && file.endsWith('.js'));
    expect(built.length).toBeGreaterThan(100);
    // The CLI's bundle (scripts/bundle-cli.ts) has chunks of its own, rebuilt from dist/src by each build.
    expect(files).toContain('dist/src/cli/chunks/audit-worker.js');
    const stale = built.filter((file) => {
      if (file.startsWith('dist/src/cli/chunks/')) return false;
      const source = join(packageRoot(), 'src', file.slice('dist/src/'.length, -'.js'.length));
      return !existsSync(`${source}.ts`) && !existsSync(`${source}.tsx`);
    });
    expect(stale).toEqual([]);
    expect(files.filter((file) => /\.test\.|(^|\/)testing\/|^dist\/bench/.test(file))).toEqual([]);
    for (const needed of [
      'dist/web/index.html',
      'catalog/powerbi.yaml',
      // The built-in catalog as the build compiled it, which explain loads without YAML or zod.
      'dist/src/catalog/powerbi.compiled.json',
      'demo/topology.yaml',
      'demo/gateway/origin-cert.pem',
    ]) {
      expect(files, needed).toContain(needed);
    }
  });

  test('explain answers from the packed catalog', async () => {
    const result = await run(bin, ['explain', 'maxcdn.bootstrapcdn.com'], undefined, { cwd: app });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('internet');
    const seed = await run(bin, ['explain', '--json', '--profile', 'seed', 'api.powerbi.com'], undefined, {
      cwd: app,
    });
    expect(seed.code, seed.stderr).toBe(0);
    expect(JSON.parse(seed.stdout)).toMatchObject({ profile: 'seed', path: 'expressroute' });
  });

  test('audit --demo reads the packed demo data set', async () => {
    const result = await run(bin, ['audit', '--demo', '--json'], undefined, { cwd: app });
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as { totals?: unknown; inputs?: unknown[] };
    expect(Array.isArray(report.inputs) && report.inputs.length).toBeGreaterThanOrEqual(10);
  });

  test('generate pac writes a PAC file for the packed example topology', async () => {
    const topology = join(app, 'node_modules', 'pathwarden', 'examples', 'topology.yaml');
    const result = await run(bin, ['generate', 'pac', '--topology', topology], undefined, { cwd: app });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('function FindProxyForURL(url, host)');
  });

  test('gateway --demo serves the dashboard and the API on the admin address, and its trickle is recorded', async () => {
    gateway = spawn(
      bin,
      ['gateway', '--demo', '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--demo-requests', '7'],
      { cwd: app, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    gateway.stderr?.on('data', (chunk) => {
      stderr += chunk;
    });
    await expect.poll(() => /admin on (127\.0\.0\.1:\d+)/.test(stderr), { timeout: 60_000 }).toBe(true);
    const admin = (stderr.match(/admin on (127\.0\.0\.1:\d+)/) as RegExpMatchArray)[1];
    const page = await get(`http://${admin}/`);
    expect(page.status).toBe(200);
    expect(page.type).toContain('text/html');
    expect(page.body).toMatch(/<script[^>]+src="[^"]+\.js"/);
    const script = page.body.match(/<script[^>]+src="([^"]+\.js)"/)?.[1] as string;
    expect((await get(`http://${admin}${script.startsWith('/') ? '' : '/'}${script}`)).status).toBe(200);
    // The trickle: 7 requests, one a second, over both egresses (the demo certificate is packed).
    await expect
      .poll(
        async () => (JSON.parse((await get(`http://${admin}/api/stats`)).body) as { flows: number }).flows,
        {
          timeout: 30_000,
          interval: 500,
        },
      )
      .toBeGreaterThanOrEqual(7);
    const stats = JSON.parse((await get(`http://${admin}/api/stats`)).body) as {
      byEgressPath: Record<string, { flows: number }>;
      byOutcome: Record<string, number>;
    };
    expect(stats.byEgressPath.expressroute?.flows).toBeGreaterThan(0);
    expect(stats.byEgressPath.internet?.flows).toBeGreaterThan(0);
    expect(stats.byOutcome.denied).toBeGreaterThan(0);
    const flows = await get(`http://${admin}/api/flows`);
    expect(flows.status).toBe(200);
    expect(flows.body).toContain('api.powerbi.com');
    const exited = new Promise<number | null>((resolve) => gateway?.once('exit', resolve));
    gateway.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 120_000);
});
