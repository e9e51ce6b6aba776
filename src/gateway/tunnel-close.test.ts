// How a tunnel ends when the origin ends first (docs/gateway.md, CONNECT): the origin's FIN reaches
// the client after every byte the origin sent, even when the client had stopped reading and was
// still uploading; the upload goes on to the origin (half-open) until the client ends too, and then
// both sides close at once, from the end events and not from the idle sweep (the record would say
// PW_GW_IDLE_TIMEOUT), with one record that counts every byte. An origin that resets is passed on
// as a reset at once. These pass on the code they were written against: they pin the semantics a
// review suspected were broken (a client left paused until the sweep), which did not reproduce.
import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startTestGateway, type TestGateway } from './testing/gateway-fixture.js';
import { type Origin, startTcpOrigin } from './testing/origins.js';

const API = 'api.powerbi.com';
const CONNECTED = 'HTTP/1.1 200 Connection established\r\n\r\n';
/**
 * Long enough that a loaded machine (a stalled event loop, 8 MiB hashed in the client) never lets
 * the sweep close a half-open tunnel first: the records' `error` tells the sweep's close apart.
 */
const IDLE_MS = 8000;
/** What the origin sends, and what the client uploads: more than loopback buffers hold at once. */
const DOWN = randomBytes(8 * 2 ** 20);
const UP = randomBytes(8 * 2 ** 20);
// Not a TLS handshake record's first byte: the tunnel opens as plain TCP on the upload's first bytes.
UP[0] = 0;
const hash = (data: Buffer | Uint8Array): string => createHash('sha256').update(data).digest('hex');
const DOWN_HASH = hash(DOWN);
const UP_HASH = hash(UP);

/** What each origin connection should do (set by each test before it connects). */
let serve: (socket: Socket) => void = () => undefined;
let origin: Origin;
let gateway: TestGateway;

beforeAll(async () => {
  origin = await startTcpOrigin((socket) => serve(socket));
  gateway = await startTestGateway({ ports: [origin.port], limits: { idleTimeoutMs: IDLE_MS } });
}, 30_000);

afterAll(async () => {
  await gateway.close();
  await origin.close();
});

/** A CONNECT tunnel client that counts and hashes what it reads, and notes when each side ended. */
async function openTunnel(): Promise<{
  socket: Socket;
  received: () => { bytes: number; hash: string };
  ended: Promise<number>;
  closed: Promise<number>;
  head: number;
}> {
  const socket = connect({ host: '127.0.0.1', port: gateway.port, allowHalfOpen: true });
  socket.on('error', () => undefined);
  await new Promise((resolve) => socket.once('connect', resolve));
  const head = `CONNECT ${API}:${origin.port} HTTP/1.1\r\nHost: ${API}:${origin.port}\r\n\r\n`;
  socket.write(head);
  // The reply, then the tunnel's bytes (the reply is short: one read holds it).
  let reply = Buffer.alloc(0);
  const digest = createHash('sha256');
  let bytes = 0;
  socket.on('data', (chunk: Buffer) => {
    if (reply.length < CONNECTED.length) {
      const need = CONNECTED.length - reply.length;
      reply = Buffer.concat([reply, chunk.subarray(0, need)]);
      chunk = chunk.subarray(need);
    }
    bytes += chunk.length;
    digest.update(chunk);
  });
  const ended = new Promise<number>((resolve) => socket.once('end', () => resolve(Date.now())));
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now())));
  for (let i = 0; i < 200 && reply.length < CONNECTED.length; i++)
    await new Promise((resolve) => setTimeout(resolve, 5));
  expect(reply.toString('latin1')).toBe(CONNECTED);
  return {
    socket,
    received: () => ({ bytes, hash: digest.copy().digest('hex') }),
    ended,
    closed,
    head: head.length,
  };
}

/** Resolves with what the origin read once its reading side ended. */
function originReads(socket: Socket): Promise<string> {
  const digest = createHash('sha256');
  socket.on('data', (chunk: Buffer) => digest.update(chunk));
  return new Promise((resolve) => socket.once('end', () => resolve(digest.digest('hex'))));
}

/** Writes all of `data`, waiting for 'drain' (backpressure from the gateway). */
async function upload(socket: Socket, data: Buffer): Promise<void> {
  for (let offset = 0; offset < data.length; offset += 256 * 1024)
    if (!socket.write(data.subarray(offset, offset + 256 * 1024)))
      await new Promise((resolve) => socket.once('drain', resolve));
}

for (const how of ['end', 'destroy'] as const)
  test(`the origin sends and ${how}s while the client is not reading and uploads: all bytes, FIN, then both close at once`, {
    timeout: 60_000,
  }, async () => {
    let uploaded: Promise<string> = Promise.resolve('');
    // `end`: the origin half-closes and reads on. `destroy`: it closes both ways once its bytes
    // are written, after reading everything (no byte unread, so its kernel sends FIN, not RST);
    // the client then uploads nothing, since the origin is gone.
    serve = (socket) => {
      uploaded = originReads(socket);
      if (how === 'end') socket.end(DOWN);
      else socket.write(DOWN, () => socket.destroy());
    };
    const before = gateway.store.flows.length;
    const client = await openTunnel();
    client.socket.pause(); // unread bytes pile up in the gateway
    const sent = how === 'end' ? UP : Buffer.alloc(0);
    const uploading = upload(client.socket, sent);
    await new Promise((resolve) => setTimeout(resolve, 300));
    client.socket.resume();
    await client.ended; // the origin's FIN, after its bytes
    expect(client.received()).toEqual({ bytes: DOWN.length, hash: DOWN_HASH });
    await uploading;
    // The tunnel is half-open: the client's side is still carried to the origin.
    expect(gateway.store.flows.length).toBe(before);
    const ending = Date.now();
    client.socket.end();
    const closed = await client.closed;
    // From the end events: well under one idle timeout (the sweep would take 8000-8250 ms, and its
    // record would say PW_GW_IDLE_TIMEOUT).
    expect(closed - ending).toBeLessThan(IDLE_MS / 2);
    if (how === 'end') expect(await uploaded).toBe(UP_HASH);
    const flow = await gateway.flowMatching((record) => gateway.store.flows.indexOf(record) >= before);
    expect(flow).toMatchObject({
      error: null,
      outcome: 'forwarded',
      protocol: 'tcp',
      bytesUp: client.head + sent.length,
      bytesDown: CONNECTED.length + DOWN.length,
    });
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS + 500));
    expect(gateway.store.flows.length - before, 'one record, not another from the sweep').toBe(1);
    expect(gateway.status.activeTunnels()).toBe(0);
  });

test('an origin that resets while the client uploads resets the client at once; one record says so', {
  timeout: 60_000,
}, async () => {
  // Reads a little and leaves the rest unread: its close is then an abortive one (RST).
  serve = (socket) => {
    socket.once('data', () => {
      socket.pause();
      setTimeout(() => socket.destroy(), 50);
    });
  };
  const before = gateway.store.flows.length;
  const client = await openTunnel();
  const started = Date.now();
  void upload(client.socket, UP).catch(() => undefined);
  const closed = await client.closed;
  expect(closed - started).toBeLessThan(IDLE_MS / 2);
  const flow = await gateway.flowMatching((record) => gateway.store.flows.indexOf(record) >= before);
  expect(flow.error).toBe('PW_GW_UPSTREAM_RESET');
  await new Promise((resolve) => setTimeout(resolve, IDLE_MS + 500));
  expect(gateway.store.flows.length - before).toBe(1);
  expect(gateway.status.activeTunnels()).toBe(0);
});
