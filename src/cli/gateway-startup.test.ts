// `pathwarden gateway` startup failures (issue 10, item 4), through the built CLI as an operator
// runs it: a proxy or SOCKS port already in use, a listen address that is not on this host and a
// YAML alias bomb each end in one line on standard error and exit 2 (never "internal error", exit
// 70 and a stack trace); `gateway --check` warns about an egress localAddress this host does not
// have. Needs `npm run build` first (npm test does it).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runCli as run, writeGatewayConfig } from '../gateway/testing/cli-gateway.js';
import { needPeers } from '../testing/peers.js';

/** `pathwarden: <one sentence>`: one line, no stack frames, no "internal error". */
function expectOneLine(stderr: string): void {
  const lines = stderr.trimEnd().split('\n');
  expect(lines, stderr).toHaveLength(1);
  expect(stderr).not.toMatch(/internal error|\n\s+at /);
}

describe.skipIf(!needPeers('build'))('gateway startup errors', () => {
  let dir: string;
  let busy: Server;
  let busyPort: number;

  /** A loopback config with `listen` (default port 0) and a silent log. */
  const config = (name: string, lines: string[], listen?: string): string =>
    writeGatewayConfig(dir, name, lines, { log: '{ level: silent }', ...(listen ? { listen } : {}) });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pw-startup-'));
    busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    busyPort = (busy.address() as { port: number }).port;
  });

  afterAll(async () => {
    await new Promise((resolve) => busy.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  test('the proxy port is in use: one line, exit 2', async () => {
    const result = await run(['gateway', '--config', config('proxy-busy.yaml', [], `127.0.0.1:${busyPort}`)]);
    expectOneLine(result.stderr);
    expect(result.stderr).toContain(`proxy address 127.0.0.1:${busyPort}`);
    expect(result.stderr).toContain('in use');
    expect(result.code).toBe(2);
  });

  test('the SOCKS port is in use: one line, exit 2', async () => {
    const file = config('socks-busy.yaml', [`socks: 127.0.0.1:${busyPort}`]);
    const result = await run(['gateway', '--config', file]);
    expectOneLine(result.stderr);
    expect(result.stderr).toContain(`SOCKS address 127.0.0.1:${busyPort}`);
    expect(result.code).toBe(2);
  });

  test('the admin port is in use: one line, exit 2, the same code', async () => {
    const file = writeGatewayConfig(dir, 'admin-busy.yaml', [], {
      admin: `127.0.0.1:${busyPort}`,
      log: '{ level: silent }',
    });
    const result = await run(['gateway', '--config', file]);
    expectOneLine(result.stderr);
    expect(result.stderr).toContain(
      `cannot listen on admin address 127.0.0.1:${busyPort}: the port is in use`,
    );
    expect(result.code).toBe(2);
  });

  test('a listen address that is not on this host: one line, exit 2', async () => {
    const result = await run(['gateway', '--config', config('not-here.yaml', [], '192.0.2.1:3128')]);
    expectOneLine(result.stderr);
    expect(result.stderr).toContain('192.0.2.1:3128');
    expect(result.stderr).toContain('not an address of this host');
    expect(result.code).toBe(2);
  });

  test('a YAML alias bomb: a located problem, exit 2', async () => {
    const bomb = [
      'a: &a [x, x, x, x, x, x, x, x, x, x]',
      'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]',
      'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]',
      'd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]',
      'e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]',
      'f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]',
      'g: [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]',
    ];
    const file = config('bomb.yaml', bomb);
    for (const args of [
      ['gateway', '--config', file],
      ['gateway', '--config', file, '--check'],
    ]) {
      const result = await run(args);
      expect(result.stderr).not.toMatch(/internal error|\n\s+at /);
      expect(result.stderr).toMatch(/bomb\.yaml:\d+:\d+.*alias/i);
      expect(result.code).toBe(2);
    }
  });

  test('--check warns about an egress localAddress that is not on this host', async () => {
    const file = join(dir, 'foreign-egress.yaml');
    writeFileSync(
      file,
      readFileSync(config('foreign-egress.yaml', []), 'utf8').replace(
        'expressroute: { localAddress: 127.0.0.2 }',
        'expressroute: { localAddress: 192.0.2.10 }',
      ),
    );
    const result = await run(['gateway', '--config', file, '--check']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('valid');
    expect(result.stderr).toContain(
      'egress.expressroute.localAddress 192.0.2.10 is not an address of this host',
    );
    expect(result.stderr).not.toContain('127.0.0.3');
  });
});
