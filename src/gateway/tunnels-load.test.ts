// 2,000 concurrent CONNECT tunnels held open at once, then closed cleanly: every tunnel carries
// its bytes on the circuit egress, the gateway counts them as active, and each becomes exactly one
// flow record when it closes. Opened in bounded batches; everything is closed at the end. One
// process holds both ends of each hop (about 8,000 descriptors): the limit here is 20,000.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { RawClient } from './testing/clients.js';
import { CIRCUIT_SOURCE, startTestGateway, type TestGateway } from './testing/gateway-fixture.js';
import { type Origin, startTcpOrigin } from './testing/origins.js';

const TUNNELS = 2000;
const BATCH = 200;

let echo: Origin;
let gateway: TestGateway;

beforeAll(async () => {
  echo = await startTcpOrigin();
  gateway = await startTestGateway({ ports: [echo.port] });
});

afterAll(async () => {
  await gateway.close();
  await echo.close();
});

async function openTunnel(index: number): Promise<RawClient> {
  const client = await RawClient.open(gateway.port);
  client.write(`CONNECT api.powerbi.com:${echo.port} HTTP/1.1\r\nHost: api.powerbi.com:${echo.port}\r\n\r\n`);
  const answer = await client.response(20_000);
  if (answer.status !== 200) throw new Error(`tunnel ${index}: ${answer.status}`);
  const ping = `ping-${index}`;
  client.write(ping);
  const deadline = Date.now() + 20_000;
  while ((await client.rest(5)).toString() !== ping) {
    if (Date.now() > deadline) throw new Error(`tunnel ${index}: no echo`);
  }
  return client;
}

test(`${TUNNELS} concurrent tunnels are held and closed cleanly`, { timeout: 120_000 }, async () => {
  const clients: RawClient[] = [];
  try {
    for (let start = 0; start < TUNNELS; start += BATCH) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(BATCH, TUNNELS - start) }, (_, i) => openTunnel(start + i)),
      );
      clients.push(...batch);
    }
    expect(gateway.status.activeTunnels()).toBe(TUNNELS);
    expect(gateway.metrics.tunnelsOpened - gateway.metrics.tunnelsClosed).toBe(TUNNELS);
    expect(echo.seen).toHaveLength(TUNNELS);
    expect(new Set(echo.remotes())).toEqual(new Set([CIRCUIT_SOURCE]));
    expect(gateway.store.flows).toHaveLength(0);
  } finally {
    // Half-close each tunnel from the client; the echo ends its side, both hops close.
    for (const client of clients) client.socket.end();
  }
  const flows = await gateway.store.waitFor(TUNNELS, 60_000);
  await Promise.all(clients.map((client) => client.closed));
  for (const client of clients) client.close();
  expect(flows).toHaveLength(TUNNELS);
  expect(gateway.status.activeTunnels()).toBe(0);
  expect(gateway.metrics.tunnelsClosed).toBe(TUNNELS);
  expect(
    flows.every(
      (flow) => flow.outcome === 'forwarded' && flow.error === null && flow.egressPath === 'expressroute',
    ),
  ).toBe(true);
  expect(new Set(flows.map((flow) => flow.connectionId)).size).toBe(TUNNELS);
});
