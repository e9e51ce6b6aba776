// A client whose connection ends before the gateway's answer to its CONNECT (the 200, or the SOCKS5
// reply) is gone, half-close or not: PW_GW_CLIENT_ABORTED, nothing dialled, and at once. A change
// that let a half-closed client have its tunnel (session 12) dialled the origin for clients that had
// closed both ways and held that connection until the idle timeout with a `forwarded` record: TCP
// shows the difference only when the gateway writes (docs/gateway.md, CONNECT). The route's name
// lookup waits for the test, so the client's FIN surely comes before the answer.
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { FlowRecord } from '../flow/record.js';
import { startTestGateway, type TestGateway } from './testing/gateway-fixture.js';
import { type Origin, startTcpOrigin } from './testing/origins.js';

const API = 'api.powerbi.com';

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
  // A silent origin, like a TLS server waiting for a ClientHello: nothing it does ends a tunnel.
  origin = await startTcpOrigin(() => undefined);
  gateway = await startTestGateway(
    // No static answers: api.powerbi.com goes through the lookup below. The idle timeout is far
    // longer than the test waits, so only the abort can end the exchange in time.
    { ports: [origin.port], resolve: {}, limits: { idleTimeoutMs: 60_000 }, socks: '127.0.0.1:0' },
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

/** A raw client on loopback that has sent `bytes` and reads until the gateway closes. */
async function rawClient(
  bytes: string | Buffer,
  port = gateway.port,
): Promise<{ socket: Socket; read: Promise<string> }> {
  const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  socket.on('error', () => undefined);
  await new Promise((resolve) => socket.once('connect', resolve));
  let text = '';
  socket.on('data', (chunk: Buffer) => {
    text += chunk.toString('latin1');
  });
  const read = new Promise<string>((resolve) => socket.once('close', () => resolve(text)));
  socket.write(bytes);
  return { socket, read };
}

/** Waits (bounded) until the gateway has asked for `count` lookups, then a little more. */
async function lookedUp(count: number): Promise<void> {
  for (let i = 0; i < 400 && lookups.length < count; i++)
    await new Promise((resolve) => setTimeout(resolve, 5));
  expect(lookups.length).toBe(count);
  // The client's FIN reaches the gateway meanwhile (loopback).
  await new Promise((resolve) => setTimeout(resolve, 100));
}

function newRecord(before: number): Promise<FlowRecord> {
  return gateway.flowMatching((record) => gateway.store.flows.indexOf(record) >= before);
}

const head = () => `CONNECT ${API}:${origin.port} HTTP/1.1\r\nHost: ${API}:${origin.port}\r\n\r\n`;

test.each([
  ['half-closes', (socket: Socket) => socket.end()],
  ['closes both ways', (socket: Socket) => socket.destroy()],
])(
  'a CONNECT client that %s before the 200 is PW_GW_CLIENT_ABORTED at once, nothing dialled',
  {
    timeout: 30_000,
  },
  async (_, end) => {
    armLookup();
    const before = gateway.store.flows.length;
    const seen = origin.seen.length;
    const client = await rawClient(`${head()}\x16\x03\x01`);
    end(client.socket);
    await lookedUp(lookups.length + 1);
    const released = Date.now();
    release();
    expect(await newRecord(before)).toMatchObject({ host: API, error: 'PW_GW_CLIENT_ABORTED' });
    expect(Date.now() - released).toBeLessThan(5_000);
    expect(await client.read).not.toContain('200');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(origin.seen.length).toBe(seen);
    expect(gateway.status.activeTunnels()).toBe(0);
  },
);

test('a SOCKS5 client that half-closes after its request, before the reply, is PW_GW_CLIENT_ABORTED, nothing dialled', {
  timeout: 30_000,
}, async () => {
  armLookup();
  const before = gateway.store.flows.length;
  const seen = origin.seen.length;
  const socksPort = Number(gateway.socksAddress?.slice(gateway.socksAddress.lastIndexOf(':') + 1));
  const name = Buffer.from(API, 'latin1');
  const request = Buffer.concat([
    Buffer.from([5, 1, 0]), // greeting: no authentication
    Buffer.from([5, 1, 0, 3, name.length]), // CONNECT, a domain name
    name,
    Buffer.from([origin.port >> 8, origin.port & 0xff]),
  ]);
  const client = await rawClient(request, socksPort);
  client.socket.end();
  await lookedUp(lookups.length + 1);
  const released = Date.now();
  release();
  expect(await newRecord(before)).toMatchObject({ host: API, error: 'PW_GW_CLIENT_ABORTED' });
  expect(Date.now() - released).toBeLessThan(5_000);
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(origin.seen.length).toBe(seen);
});
