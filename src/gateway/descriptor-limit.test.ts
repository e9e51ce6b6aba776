// Descriptor exhaustion with the default limits (issue 10, item 3), in a real process: the built CLI
// runs a gateway under an open-files limit of 256 (prlimit), 400 connections that never send a
// byte are opened against it, and the admin API must still answer (and count the refusals) while
// they are held. Before the connection limit kept a descriptor reserve, the proxy took every
// descriptor and the admin API stopped accepting. Needs `npm run build` first (npm test does it).
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { packageRoot } from '../catalog/load.js';

const cli = process.env.PW_TEST_CLI ?? join(packageRoot(), 'dist', 'src', 'cli', 'main.js');
const prlimit = '/usr/bin/prlimit';
const DESCRIPTORS = 256;
const SILENT = 400;

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, timeout: 3000 }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('the admin API did not answer within 3 s')));
    req.on('error', reject);
    req.end();
  });
}

describe.skipIf(!existsSync(cli))(
  'a gateway under an open-files limit of 256 and 400 silent connections',
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'pw-nofile-'));
    const sockets: Socket[] = [];
    let child: ChildProcess | undefined;

    afterAll(async () => {
      for (const socket of sockets) socket.destroy();
      if (child && child.exitCode === null) {
        const exited = new Promise((resolve) => child?.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    });

    test.skipIf(!existsSync(prlimit))(
      'the admin API answers and counts the refused connections',
      async () => {
        const config = join(dir, 'gateway.yaml');
        writeFileSync(
          config,
          [
            'listen: 127.0.0.1:0',
            'admin: 127.0.0.1:0',
            'egress:',
            '  expressroute: { localAddress: 127.0.0.2 }',
            '  internet: { localAddress: 127.0.0.3 }',
            `store: { kind: jsonl, path: ${join(dir, 'flows.jsonl')} }`,
            `log: { level: info, file: ${join(dir, 'gateway.log')} }`,
            '',
          ].join('\n'),
        );
        const started = spawn(
          prlimit,
          [`--nofile=${DESCRIPTORS}:${DESCRIPTORS}`, process.execPath, cli, 'gateway', '--config', config],
          { stdio: ['ignore', 'ignore', 'pipe'] },
        );
        child = started;
        let stderr = '';
        started.stderr?.on('data', (chunk: Buffer) => {
          stderr += chunk.toString();
        });
        const deadline = Date.now() + 15_000;
        const listening = /proxy on [\d.]+:(\d+), admin on [\d.]+:(\d+)/;
        for (;;) {
          if (listening.test(stderr)) break;
          if (Date.now() > deadline || started.exitCode !== null)
            throw new Error(`gateway did not start: ${stderr}`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        const match = listening.exec(stderr) as RegExpExecArray;
        const proxyPort = Number(match[1]);
        const adminPort = Number(match[2]);

        // Bounded: 400 connections, 50 at a time; each waits for connect (or a refusal) before the next.
        for (let at = 0; at < SILENT; at += 50) {
          await Promise.all(
            Array.from({ length: 50 }, async () => {
              const socket = connect({ host: '127.0.0.1', port: proxyPort });
              socket.on('error', () => {});
              sockets.push(socket);
              await new Promise((resolve) => {
                socket.once('connect', resolve);
                socket.once('close', resolve);
              });
            }),
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 300));

        const health = await get(adminPort, '/healthz');
        expect(health.status).toBe(200);
        const metrics = await get(adminPort, '/metrics');
        const refused = /^pathwarden_connections_refused_total\{reason="limit"\} (\d+)$/m.exec(metrics.body);
        expect(Number(refused?.[1])).toBeGreaterThan(0);
        expect(Number(refused?.[1])).toBeLessThan(SILENT);
      },
      60_000,
    );
  },
);
