// Descriptor exhaustion (issue 10, item 3): silent connections must not hold the proxy. Connections
// that send nothing are closed after limits.headersTimeoutMs; beyond the connection limit (shared
// by the proxy and SOCKS listeners, and below the descriptor limit by a reserve) new connections
// are refused, counted in pathwarden_connections_refused_total and logged; the admin API answers
// throughout and the proxy serves again once the silent ones are gone.
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { GatewayMetrics } from '../admin/metrics.js';
import { startAdminServer } from '../admin/server.js';
import { gatewayConfigSchema } from '../gateway/config.js';
import {
  descriptorShortfall,
  descriptorsNeeded,
  descriptorWarning,
  effectiveConnectionLimit,
} from '../gateway/connection-gate.js';
import { type RunningGateway, startGateway } from '../gateway/gateway.js';
import { RawClient } from '../gateway/testing/clients.js';
import { MemoryFlowStore } from '../gateway/testing/memory-store.js';
import { type Origin, startHttpOrigin } from '../gateway/testing/origins.js';

const LIMIT = 20;
const HEADERS_TIMEOUT = 600;

function portOf(hostPort: string): number {
  return Number(hostPort.slice(hostPort.lastIndexOf(':') + 1));
}

/** A connection that sends nothing; `closed` says whether the gateway has closed it. */
async function silent(port: number): Promise<{ socket: Socket; closed: () => boolean }> {
  const socket = connect({ host: '127.0.0.1', port });
  let closed = false;
  socket.on('close', () => {
    closed = true;
  });
  socket.on('error', () => {});
  await new Promise<void>((resolve) => {
    socket.once('connect', resolve);
    socket.once('close', resolve);
  });
  return { socket, closed: () => closed };
}

function adminGet(address: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: portOf(address), path, timeout: 3000 }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('admin API timed out')));
    req.on('error', reject);
    req.end();
  });
}

async function until(done: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function refused(metricsText: string, reason: string): number {
  const match = new RegExp(`^pathwarden_connections_refused_total\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(
    metricsText,
  );
  return match ? Number(match[1]) : Number.NaN;
}

describe('silent connections and the connection limit', () => {
  let origin: Origin;
  let gateway: RunningGateway;
  const logLines: Record<string, unknown>[] = [];

  beforeAll(async () => {
    origin = await startHttpOrigin();
    const config = gatewayConfigSchema.parse({
      listen: '127.0.0.1:0',
      admin: '127.0.0.1:0',
      socks: '127.0.0.1:0',
      egress: { expressroute: { localAddress: '127.0.0.2' }, internet: { localAddress: '127.0.0.3' } },
      resolve: { '*.powerbi.com': '127.0.0.1' },
      allowDestinations: ['127.0.0.0/8'],
      ports: [origin.port],
      limits: { maxConnections: LIMIT, headersTimeoutMs: HEADERS_TIMEOUT },
    });
    const logStream = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) logLines.push(JSON.parse(line));
        callback();
      },
    });
    gateway = await startGateway(config, {
      store: new MemoryFlowStore(),
      metrics: new GatewayMetrics({ processMetrics: false }),
      logger: pino({ level: 'info' }, logStream),
      startAdmin: startAdminServer,
    });
  });

  afterAll(async () => {
    await gateway?.close();
    await origin?.close();
  });

  test('beyond the limit: refused, counted, logged; the admin API answers; silent ones time out', async () => {
    const proxyPort = portOf(gateway.address);
    const socksPort = portOf(gateway.socksAddress as string);
    // 3 x the limit, over both listeners: the limit is one for both.
    const held: Awaited<ReturnType<typeof silent>>[] = [];
    for (let i = 0; i < LIMIT * 3; i++) held.push(await silent(i % 4 === 0 ? socksPort : proxyPort));
    await until(() => held.filter((c) => c.closed()).length >= LIMIT * 2, 2000);
    expect(held.filter((c) => c.closed())).toHaveLength(LIMIT * 2);

    // Full: the admin API still answers, and says how many were refused.
    const health = await adminGet(gateway.adminAddress as string, '/healthz');
    expect(health.status).toBe(200);
    const metrics = await adminGet(gateway.adminAddress as string, '/metrics');
    expect(refused(metrics.body, 'limit')).toBe(LIMIT * 2);
    const refusal = logLines.find((line) => line.msg === 'connections refused');
    expect(refusal).toMatchObject({ reason: 'limit', limit: LIMIT });

    // The silent ones are closed after the headers timeout, not the 5-minute idle timeout.
    await until(() => held.every((c) => c.closed()), HEADERS_TIMEOUT * 4);
    expect(held.filter((c) => !c.closed())).toHaveLength(0);
    const after = await adminGet(gateway.adminAddress as string, '/metrics');
    expect(refused(after.body, 'silent')).toBe(LIMIT);

    // And the proxy serves again.
    const client = await RawClient.open(proxyPort);
    client.write(`GET http://api.powerbi.com:${origin.port}/again HTTP/1.1\r\nHost: api.powerbi.com\r\n\r\n`);
    expect((await client.response()).status).toBe(200);
    client.close();
    for (const c of held) c.socket.destroy();
  }, 20_000);

  test('a client that starts its request in time is served, even after the timeout of its connection', async () => {
    const client = await RawClient.open(portOf(gateway.address));
    client.write('GET http://api.powerbi.com:');
    await new Promise((resolve) => setTimeout(resolve, HEADERS_TIMEOUT / 3));
    client.write(`${origin.port}/slow HTTP/1.1\r\nHost: api.powerbi.com\r\n\r\n`);
    expect((await client.response()).status).toBe(200);
    // Kept alive: idle between requests is the idle timeout's business, not the headers timeout's.
    await new Promise((resolve) => setTimeout(resolve, HEADERS_TIMEOUT * 1.5));
    client.write(
      `GET http://api.powerbi.com:${origin.port}/second HTTP/1.1\r\nHost: api.powerbi.com\r\n\r\n`,
    );
    expect((await client.response()).status).toBe(200);
    client.close();
  });
});

describe('the connection limit keeps a descriptor reserve', () => {
  test.each([
    // configured, descriptor limit, expected
    [20000, null, 20000],
    [20000, 1_048_576, 20000],
    [20000, 1024, 460],
    [20000, 256, 96],
    [20, 1024, 20],
    [20000, 40, 1],
  ])('maxConnections %d with %s descriptors -> %d connections', (configured, descriptors, expected) => {
    expect(effectiveConnectionLimit(configured, descriptors)).toBe(expected);
  });
});

describe('the open-files limit a connection limit needs', () => {
  test.each([2, 20, 96, 460, 9000, 10_000, 20_000, 60_000])('%d connections', (connections) => {
    const needed = descriptorsNeeded(connections);
    expect(effectiveConnectionLimit(connections, needed)).toBe(connections);
    // The smallest such limit: one descriptor fewer admits fewer connections.
    expect(effectiveConnectionLimit(connections, needed - 1)).toBeLessThan(connections);
  });

  test('a shortfall is reported with what is admitted and what is needed', () => {
    expect(descriptorShortfall(20_000, null)).toBeNull();
    expect(descriptorShortfall(20_000, 1_048_576)).toBeNull();
    const shortfall = descriptorShortfall(20_000, 20_000);
    expect(shortfall).toEqual({ configured: 20_000, admitted: 9000, descriptors: 20_000, needed: 44_445 });
    const text = descriptorWarning(shortfall as NonNullable<typeof shortfall>);
    expect(text).toContain('open-files limit (20000) admits 9000 of limits.maxConnections 20000');
    expect(text).toContain('at least 44445');
  });
});
