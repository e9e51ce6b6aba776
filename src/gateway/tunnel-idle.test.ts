// The idle timeout of CONNECT tunnels (limits.idleTimeoutMs), kept by one shared sweep: a tunnel
// that moves no byte for that long is closed and recorded as PW_GW_IDLE_TIMEOUT; one that keeps
// moving bytes, in either direction, stays open; its byte counts come from the sockets at close.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { RawClient } from './testing/clients.js';
import { startTestGateway, type TestGateway } from './testing/gateway-fixture.js';
import { type Origin, startTcpOrigin } from './testing/origins.js';

const IDLE_MS = 1000;

describe('tunnel idle timeout', () => {
  let origin: Origin;
  let gateway: TestGateway;

  beforeAll(async () => {
    origin = await startTcpOrigin();
    gateway = await startTestGateway({ ports: [origin.port], limits: { idleTimeoutMs: IDLE_MS } });
  });

  afterAll(async () => {
    await gateway.close();
    await origin.close();
  });

  async function openTunnel(): Promise<RawClient> {
    const client = await RawClient.open(gateway.port);
    const authority = `api.powerbi.com:${origin.port}`;
    client.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
    const answer = await client.response();
    expect(answer.status).toBe(200);
    return client;
  }

  test('a silent tunnel is closed after idleTimeoutMs (within a sweep period) and recorded', async () => {
    const opened = Date.now();
    const client = await openTunnel();
    await client.closed;
    const lasted = Date.now() - opened;
    expect(lasted).toBeGreaterThanOrEqual(IDLE_MS);
    expect(lasted).toBeLessThan(IDLE_MS + 2000);
    const flow = await gateway.flowMatching((record) => record.error === 'PW_GW_IDLE_TIMEOUT');
    expect(flow.outcome).toBe('forwarded');
    expect(gateway.status.activeTunnels()).toBe(0);
  });

  test('a tunnel that moves a byte every third of the idle time stays open, with its bytes counted', async () => {
    const client = await openTunnel();
    const connectionsBefore = gateway.store.flows.length;
    for (let i = 0; i < 8; i++) {
      client.write('x'); // echoed by the origin: one byte up, one down
      await new Promise((resolve) => setTimeout(resolve, IDLE_MS / 3));
      expect(client.ended, `cut after ${i + 1} bytes`).toBe(false);
    }
    client.socket.end();
    await client.closed;
    const flow = await gateway.flowMatching(
      (record) => gateway.store.flows.indexOf(record) >= connectionsBefore && record.error === null,
    );
    expect(flow.bytesDown).toBeGreaterThanOrEqual(8);
    expect(flow.bytesUp).toBeGreaterThanOrEqual(8);
    client.close();
  });
});
