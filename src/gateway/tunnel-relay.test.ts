// What the client-to-origin direction of a tunnel must keep doing, whatever relays it (`pipe`; a
// hand-written relay was tried in session 10, docs/performance.md, Gateway): an upload larger than the
// sockets' buffers reaches an origin that reads slowly, unchanged and in order, without the gateway
// queueing it (backpressure: the client is paused while the origin's socket asks for 'drain'); the
// client's half-close ends the origin's side while the other direction stays open; the record
// counts every byte.
import { createHash, randomBytes } from 'node:crypto';
import { channel } from 'node:diagnostics_channel';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { RawClient } from './testing/clients.js';
import { startTestGateway, type TestGateway } from './testing/gateway-fixture.js';
import { type Origin, startTcpOrigin } from './testing/origins.js';

const API = 'api.powerbi.com';
const CONNECTED = 'HTTP/1.1 200 Connection established\r\n\r\n';
const BYTES = 24 * 2 ** 20;
// Random, so that a chunk written twice, dropped or reordered cannot pass for the right bytes.
const payload = randomBytes(BYTES);
const payloadHash = createHash('sha256').update(payload).digest('hex');

let slow: Origin;
let gateway: TestGateway;
/** Sockets this process dials with net.connect (the gateway's upstreams among them). */
const dialed: Socket[] = [];
const onDialed = (message: unknown): void => {
  dialed.push((message as { socket: Socket }).socket);
};

beforeAll(async () => {
  // Reads in small steps with pauses (far slower than the client writes), hashes what it got and,
  // once the client's side has ended, answers with the hash and ends its own side.
  slow = await startTcpOrigin((socket) => {
    const hash = createHash('sha256');
    socket.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      socket.pause();
      setTimeout(() => socket.resume(), 1);
    });
    socket.on('end', () => socket.end(hash.digest('hex')));
  });
  gateway = await startTestGateway({ ports: [slow.port] });
  channel('net.client.socket').subscribe(onDialed);
});

afterAll(async () => {
  channel('net.client.socket').unsubscribe(onDialed);
  await gateway.close();
  await slow.close();
});

test('an upload to a slowly reading origin arrives unchanged; the half-close ends it; every byte is counted', {
  timeout: 60_000,
}, async () => {
  const connectHead = `CONNECT ${API}:${slow.port} HTTP/1.1\r\nHost: ${API}:${slow.port}\r\n\r\n`;
  const before = dialed.length;
  const client = await RawClient.open(gateway.port);
  let paused = 0;
  // The most the gateway held queued for the origin at any time: without backpressure it would be
  // most of the upload (the client's writes would be read as fast as they come).
  let mostQueued = 0;
  const sampler = setInterval(() => {
    for (const socket of dialed.slice(before)) mostQueued = Math.max(mostQueued, socket.writableLength);
  }, 2);
  try {
    client.write(connectHead);
    expect((await client.response()).status).toBe(200);
    // The first bytes are not TLS: the tunnel opens as plain TCP and relays from then on.
    for (let offset = 0; offset < BYTES; offset += 256 * 1024) {
      if (!client.socket.write(payload.subarray(offset, offset + 256 * 1024))) {
        paused++;
        await new Promise((resolve) => client.socket.once('drain', resolve));
      }
    }
    client.socket.end();
    const answer = (await client.rest(50_000)).toString();
    expect(answer).toBe(payloadHash);
    expect(client.ended).toBe(true);
  } finally {
    clearInterval(sampler);
    client.close();
  }
  // The gateway held the client back (it wrote faster than the origin read) more than once.
  expect(paused).toBeGreaterThan(1);
  expect(mostQueued).toBeGreaterThan(0);
  expect(mostQueued).toBeLessThan(2 * 2 ** 20);
  const flow = await gateway.flowMatching((f) => f.port === slow.port && f.protocol === 'tcp');
  expect(flow).toMatchObject({
    bytesUp: connectHead.length + BYTES,
    bytesDown: CONNECTED.length + payloadHash.length,
    outcome: 'forwarded',
    error: null,
    egressPath: 'expressroute',
  });
});
