// A CONNECT client that half-closes (shutdown(SHUT_WR)) after its request head, before the gateway
// answers, still reads: it gets the 200, the origin's bytes and the origin's FIN, and its own FIN
// (after its early bytes) reaches the origin (docs/gateway.md, CONNECT). It was recorded as
// PW_GW_CLIENT_ABORTED and never got a tunnel. A client that really goes away before the answer (a
// reset, or the end of its connection in the middle of the head) is still told apart. The route's
// name lookup waits for the test, so the client's FIN or reset surely comes before the 200.
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { FlowRecord } from '../flow/record.js';
import { startTestGateway, type TestGateway } from './testing/gateway-fixture.js';
import { type Origin, startTcpOrigin } from './testing/origins.js';

const API = 'api.powerbi.com';
const CONNECTED = 'HTTP/1.1 200 Connection established\r\n\r\n';

let origin: Origin;
let gateway: TestGateway;
/** Names the gateway looked up, and what releases the current lookup. */
const lookups: string[] = [];
let release: () => void = () => undefined;
let gate: Promise<void> = Promise.resolve();

/** The next lookup waits until release() (each test arms it). */
function armLookup(): void {
  gate = new Promise((resolve) => {
    release = resolve;
  });
}

beforeAll(async () => {
  // The origin reads the tunnel's bytes up to its FIN, then answers with what it read, and ends.
  origin = await startTcpOrigin((socket) => {
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => socket.end(`pong:${Buffer.concat(chunks).toString('latin1')}`));
  });
  gateway = await startTestGateway(
    // No static answers: api.powerbi.com goes through the lookup below.
    { ports: [origin.port], resolve: {}, limits: { idleTimeoutMs: 10_000 } },
    {
      lookup: async (name) => {
        lookups.push(name);
        await gate;
        return [{ address: '127.0.0.1' }];
      },
    },
  );
}, 30_000);

afterAll(async () => {
  release();
  await gateway.close();
  await origin.close();
});

interface RawClient {
  socket: Socket;
  /** Everything read, once the gateway ended or closed the connection. */
  read: Promise<string>;
  closed: Promise<void>;
}

/** A raw client on loopback that has sent `bytes` and reads everything until the gateway ends. */
async function rawClient(bytes: string): Promise<RawClient> {
  const socket = connect({ host: '127.0.0.1', port: gateway.port, allowHalfOpen: true });
  socket.on('error', () => undefined);
  await new Promise((resolve) => socket.once('connect', resolve));
  let text = '';
  socket.on('data', (chunk: Buffer) => {
    text += chunk.toString('latin1');
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const read = new Promise<string>((resolve) => {
    socket.once('end', () => resolve(text));
    void closed.then(() => resolve(text));
  });
  socket.write(bytes);
  return { socket, read, closed };
}

/** Waits (bounded) until the gateway has asked for `count` lookups, then a little more. */
async function lookedUp(count: number): Promise<void> {
  for (let i = 0; i < 400 && lookups.length < count; i++)
    await new Promise((resolve) => setTimeout(resolve, 5));
  expect(lookups.length).toBe(count);
  // The client's FIN or reset reaches the gateway meanwhile (loopback).
  await new Promise((resolve) => setTimeout(resolve, 100));
}

function newRecord(before: number): Promise<FlowRecord> {
  return gateway.flowMatching((record) => gateway.store.flows.indexOf(record) >= before);
}

test('a client that half-closes after CONNECT, before the 200, gets the tunnel and the origin gets its FIN', {
  timeout: 30_000,
}, async () => {
  armLookup();
  const before = gateway.store.flows.length;
  const seen = origin.seen.length;
  const head = `CONNECT ${API}:${origin.port} HTTP/1.1\r\nHost: ${API}:${origin.port}\r\n\r\n`;
  // The head and early bytes, then shutdown(SHUT_WR): the client reads on.
  const client = await rawClient(`${head}ping`);
  client.socket.end();
  await lookedUp(lookups.length + 1);
  release();
  // The 200, then what the origin answered after it read the early bytes and the client's FIN.
  expect(await client.read).toBe(`${CONNECTED}pong:ping`);
  await client.closed;
  expect(origin.seen.length).toBe(seen + 1);
  expect(await newRecord(before)).toMatchObject({
    host: API,
    error: null,
    outcome: 'forwarded',
    protocol: 'tcp',
    bytesUp: head.length + 'ping'.length,
    bytesDown: CONNECTED.length + 'pong:ping'.length,
  });
  expect(gateway.status.activeTunnels()).toBe(0);
});

test('a client that half-closes after CONNECT with no early bytes gets the origin answer too', {
  timeout: 30_000,
}, async () => {
  armLookup();
  const before = gateway.store.flows.length;
  const head = `CONNECT ${API}:${origin.port} HTTP/1.1\r\nHost: ${API}:${origin.port}\r\n\r\n`;
  const client = await rawClient(head);
  client.socket.end();
  await lookedUp(lookups.length + 1);
  release();
  expect(await client.read).toBe(`${CONNECTED}pong:`);
  await client.closed;
  expect(await newRecord(before)).toMatchObject({ error: null, outcome: 'forwarded' });
});

test('a client that resets after CONNECT, before the 200, is PW_GW_CLIENT_ABORTED and nothing is dialled', {
  timeout: 30_000,
}, async () => {
  armLookup();
  const before = gateway.store.flows.length;
  const seen = origin.seen.length;
  const client = await rawClient(`CONNECT ${API}:${origin.port} HTTP/1.1\r\nHost: ${API}\r\n\r\n`);
  await lookedUp(lookups.length + 1);
  client.socket.resetAndDestroy();
  await new Promise((resolve) => setTimeout(resolve, 100));
  release();
  expect(await newRecord(before)).toMatchObject({ host: API, error: 'PW_GW_CLIENT_ABORTED' });
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(origin.seen.length).toBe(seen);
  expect(gateway.status.activeTunnels()).toBe(0);
});

// TCP cannot tell this from a half-close until the gateway writes: the 200 meets a closed socket,
// whose reset ends the tunnel at once, recorded as the client's abort.
test('a client that closes both ways after CONNECT, before the 200, ends as PW_GW_CLIENT_ABORTED at once', {
  timeout: 30_000,
}, async () => {
  armLookup();
  const before = gateway.store.flows.length;
  const client = await rawClient(`CONNECT ${API}:${origin.port} HTTP/1.1\r\nHost: ${API}\r\n\r\n`);
  client.socket.destroy();
  await lookedUp(lookups.length + 1);
  const released = Date.now();
  release();
  expect(await newRecord(before)).toMatchObject({ host: API, error: 'PW_GW_CLIENT_ABORTED' });
  expect(Date.now() - released).toBeLessThan(5000);
  expect(gateway.status.activeTunnels()).toBe(0);
});

test('a client that ends in the middle of its CONNECT head is refused (400), as before', {
  timeout: 30_000,
}, async () => {
  const before = gateway.store.flows.length;
  const client = await rawClient(`CONNECT ${API}:${origin.port} HTTP/1.1\r\nHost: ${API}\r\n`);
  client.socket.end();
  expect(await client.read).toMatch(/^HTTP\/1\.1 400 /);
  expect(await newRecord(before)).toMatchObject({ error: 'PW_GW_BAD_REQUEST' });
});
