// Descriptor exhaustion with the default limits (issue 10, item 3), in a real process: the built CLI
// runs a gateway under an open-files limit of 256 (prlimit), 400 connections that never send a
// byte are opened against it, and the admin API must still answer (and count the refusals) while
// they are held. Before the connection limit kept a descriptor reserve, the proxy took every
// descriptor and the admin API stopped accepting. Needs `npm run build` first (npm test does it).
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { needPeers } from '../testing/peers.js';
import { startCliGateway, writeGatewayConfig } from './testing/cli-gateway.js';

/** util-linux, Essential on Debian: always there. */
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

describe.skipIf(!needPeers('build', 'prlimit'))(
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

    test('the admin API answers and counts the refused connections', async () => {
      const config = writeGatewayConfig(dir, 'gateway.yaml', []);
      const gateway = await startCliGateway(config, [prlimit, `--nofile=${DESCRIPTORS}:${DESCRIPTORS}`]);
      child = gateway.child;
      const { proxyPort, adminPort } = gateway;

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

      // The gateway says at start that the limit lowers limits.maxConnections (20000 by default):
      // on stderr and in its log, with the limit that would be needed.
      expect(gateway.stderr()).toContain(
        `warning: the open-files limit (${DESCRIPTORS}) admits 96 of limits.maxConnections 20000`,
      );
      const logLine = readFileSync(join(dir, 'gateway.yaml.log'), 'utf8')
        .split('\n')
        .find((line) => line.includes('"msg":"descriptor limit:'));
      expect(JSON.parse(logLine ?? '{}')).toMatchObject({
        level: 40,
        configured: 20000,
        admitted: 96,
        descriptors: DESCRIPTORS,
        needed: 44445,
      });

      const health = await get(adminPort, '/healthz');
      expect(health.status).toBe(200);
      const metrics = await get(adminPort, '/metrics');
      const refused = /^pathwarden_connections_refused_total\{reason="limit"\} (\d+)$/m.exec(metrics.body);
      expect(Number(refused?.[1])).toBeGreaterThan(0);
      expect(Number(refused?.[1])).toBeLessThan(SILENT);
    }, 60_000);

    test('with its log on standard error (the default), the warning is on standard error once', async () => {
      const config = writeGatewayConfig(dir, 'stderr-log.yaml', [], { log: '{ level: info }' });
      const gateway = await startCliGateway(config, [prlimit, `--nofile=${DESCRIPTORS}:${DESCRIPTORS}`]);
      try {
        // The log's start line comes after the warning: both are on stderr once it is there.
        const deadline = Date.now() + 5000;
        while (!gateway.stderr().includes('"msg":"gateway started"') && Date.now() < deadline)
          await new Promise((resolve) => setTimeout(resolve, 50));
        const stderr = gateway.stderr();
        expect(stderr).toContain('"msg":"gateway started"');
        const said = stderr
          .split('\n')
          .filter((line) => line.includes('admits 96 of limits.maxConnections 20000'));
        expect(said).toHaveLength(1);
        expect(JSON.parse(said[0] ?? '{}')).toMatchObject({ level: 40, configured: 20000, admitted: 96 });
      } finally {
        const exited = gateway.exited;
        gateway.child.kill('SIGKILL');
        await exited;
      }
    }, 60_000);
  },
);
