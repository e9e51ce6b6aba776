// Fail closed: when the circuit egress fails (source address unusable, upstream proxy refusing,
// silent or answering an error, health probe down), circuit-bound traffic gets 502 / 503 with a
// pathwarden code, is recorded as blocked, and not one connection reaches the origin from the
// Internet egress. Internet-bound traffic keeps working.
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { curl, RawClient } from './testing/clients.js';
import { INTERNET_SOURCE, startTestGateway, type TestGateway } from './testing/gateway-fixture.js';
import { type Origin, startHttpOrigin, startTlsOrigin } from './testing/origins.js';

/** A TCP listener that does `behave` with each connection (a broken upstream proxy). */
async function startPeer(
  behave: (socket: Socket) => void,
  port = 0,
): Promise<{ port: number; server: Server; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    behave(socket);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { port: (server.address() as { port: number }).port, server, sockets };
}

async function stopPeer(peer: { server: Server; sockets: Set<Socket> }): Promise<void> {
  for (const socket of peer.sockets) socket.destroy();
  await new Promise<void>((resolve) => peer.server.close(() => resolve()));
}

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const peer = await startPeer(() => {});
  await stopPeer(peer);
  return peer.port;
}

describe('the circuit egress fails: blocked, never the Internet', () => {
  let http: Origin;
  let tls: Origin;
  /** `plain`: what a plain HTTP request gets. Through a proxy egress it is handed to the proxy, so
   *  a silent proxy ends in the response timeout and a proxy's own error answer is passed on. */
  const gateways: {
    name: string;
    gateway: TestGateway;
    code: string;
    status: number;
    plain: { status: number; code: string | undefined; outcome: string };
  }[] = [];
  const peers: { server: Server; sockets: Set<Socket> }[] = [];

  beforeAll(async () => {
    http = await startHttpOrigin();
    tls = await startTlsOrigin();
    const ports = [http.port, tls.port];
    const silent = await startPeer(() => {});
    const refusing = await startPeer((socket) =>
      socket.once('data', () => socket.end('HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n')),
    );
    peers.push(silent, refusing);
    const blocked = (code: string) => ({ status: 502, code, outcome: 'blocked' });
    const cases = [
      [
        'source address not on this host',
        { localAddress: '192.0.2.1' },
        'PW_GW_UPSTREAM_REFUSED',
        blocked('PW_GW_UPSTREAM_REFUSED'),
      ],
      [
        'upstream proxy port closed',
        { proxy: `http://127.0.0.1:${await closedPort()}` },
        'PW_GW_UPSTREAM_REFUSED',
        blocked('PW_GW_UPSTREAM_REFUSED'),
      ],
      [
        'upstream proxy never answers',
        { proxy: `http://127.0.0.1:${silent.port}` },
        'PW_GW_CONNECT_TIMEOUT',
        { status: 504, code: 'PW_GW_UPSTREAM_TIMEOUT', outcome: 'forwarded' },
      ],
      [
        'upstream proxy answers 503',
        { proxy: `http://127.0.0.1:${refusing.port}` },
        'PW_GW_UPSTREAM_PROXY_ERROR',
        { status: 503, code: undefined, outcome: 'forwarded' },
      ],
    ] as const;
    for (const [name, circuit, code, plain] of cases) {
      const gateway = await startTestGateway({
        ports,
        egress: { expressroute: circuit, internet: { localAddress: INTERNET_SOURCE } },
        limits: { connectTimeoutMs: 300, idleTimeoutMs: 1000 },
      });
      gateways.push({ name, gateway, code, status: 502, plain });
    }
  });

  afterAll(async () => {
    for (const { gateway } of gateways) await gateway.close();
    for (const peer of peers) await stopPeer(peer);
    await http.close();
    await tls.close();
  });

  test('for every failure: the client gets the code, the flow is blocked, zero origin connections', async () => {
    for (const { name, gateway, code, status, plain } of gateways) {
      const httpSeen = http.seen.length;
      const tlsSeen = tls.seen.length;
      const proxy = `http://127.0.0.1:${gateway.port}`;
      // TLS through CONNECT (curl), a plain request (raw), and an `either` host (circuit by default).
      const tunnel = await curl([
        '-x',
        proxy,
        '-k',
        '-D',
        '-',
        '-o',
        '/dev/null',
        `https://api.powerbi.com:${tls.port}/`,
      ]);
      expect(tunnel.stdout, name).toContain(`HTTP/1.1 ${status}`);
      expect(tunnel.stdout, name).toContain(`X-Pathwarden-Error: ${code}`);
      for (const host of ['x.pbidedicated.windows.net', 'app.powerbi.com']) {
        const client = await RawClient.open(gateway.port);
        client.write(`GET http://${host}:${http.port}/data HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
        const response = await client.response();
        client.close();
        expect([response.status, response.headers['x-pathwarden-error']], `${name} ${host}`).toEqual([
          plain.status,
          plain.code,
        ]);
      }
      expect(http.seen.length, name).toBe(httpSeen);
      expect(tls.seen.length, name).toBe(tlsSeen);
      // Zero connections at all, so in particular none from the Internet egress (127.0.0.3).
      const flows = gateway.store.flows.slice(-3);
      expect(
        flows.map((flow) => [flow.outcome, flow.error, flow.egressPath]),
        name,
      ).toEqual([
        ['blocked', code, 'expressroute'],
        [plain.outcome, plain.code ?? null, 'expressroute'],
        [plain.outcome, plain.code ?? null, 'expressroute'],
      ]);
      // The Internet path of the same gateway still works.
      const exception = await curl(['-x', proxy, `http://maxcdn.bootstrapcdn.com:${http.port}/lib.js`]);
      expect(exception.code, `${name}: ${exception.stderr}`).toBe(0);
      expect(JSON.parse(exception.stdout).remote).toBe(INTERNET_SOURCE);
    }
  });
});

describe('health probes', () => {
  let http: Origin;
  let gateway: TestGateway;
  let probeTarget: { port: number; server: Server; sockets: Set<Socket> };

  beforeAll(async () => {
    http = await startHttpOrigin();
    probeTarget = await startPeer((socket) => socket.end());
    gateway = await startTestGateway({
      ports: [http.port],
      health: {
        expressroute: {
          kind: 'tcp',
          target: `127.0.0.1:${probeTarget.port}`,
          intervalMs: 100,
          timeoutMs: 200,
          failures: 2,
        },
        internet: {
          kind: 'http',
          target: `http://127.0.0.1:${http.port}/health`,
          intervalMs: 100,
          timeoutMs: 500,
        },
      },
    });
  });

  afterAll(async () => {
    await gateway.close();
    await stopPeer(probeTarget);
    await http.close();
  });

  const stateOf = (path: string) => gateway.status.health().find((health) => health.path === path);

  async function until(condition: () => boolean, ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error('condition not reached');
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  test('up -> down -> up: while the circuit is down, circuit-bound requests fail fast with 503', async () => {
    await until(() => stateOf('expressroute')?.state === 'up' && stateOf('internet')?.state === 'up');
    const port = probeTarget.port;
    await stopPeer(probeTarget);
    await until(() => stateOf('expressroute')?.state === 'down');
    expect(stateOf('expressroute')?.lastError).toMatch(/ECONNREFUSED/);
    expect(gateway.metrics.health).toContainEqual({ path: 'expressroute', up: false });

    const seen = http.seen.length;
    const started = Date.now();
    const client = await RawClient.open(gateway.port);
    client.write(`GET http://api.powerbi.com:${http.port}/ HTTP/1.1\r\nHost: api.powerbi.com\r\n\r\n`);
    const response = await client.response();
    client.close();
    expect(Date.now() - started).toBeLessThan(200);
    expect([response.status, response.headers['x-pathwarden-error']]).toEqual([503, 'PW_GW_CIRCUIT_DOWN']);
    expect(response.body).toContain('fails closed');
    expect(gateway.store.flows.at(-1)).toMatchObject({
      outcome: 'blocked',
      error: 'PW_GW_CIRCUIT_DOWN',
      egressPath: null,
    });
    const exception = await curl([
      '-x',
      `http://127.0.0.1:${gateway.port}`,
      `http://maxcdn.bootstrapcdn.com:${http.port}/`,
    ]);
    expect(JSON.parse(exception.stdout).remote).toBe(INTERNET_SOURCE);
    // Only the exception and the Internet probe reached the origin, never the circuit-bound request.
    expect(http.seen.slice(seen).every((entry) => entry.remoteAddress === INTERNET_SOURCE)).toBe(true);

    probeTarget = await startPeer((socket) => socket.end(), port);
    await until(() => stateOf('expressroute')?.state === 'up');
    const history = stateOf('expressroute')?.history.map((entry) => entry.state);
    expect(history).toEqual(['up', 'down', 'up']);
  });
});
