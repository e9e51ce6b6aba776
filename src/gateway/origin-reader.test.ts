// The origin-to-client relay of direct tunnels reads into reused buffers (origin-reader.ts). These
// tests check what reuse could break: every byte arrives unchanged and in order when the client
// reads slowly (writes that do not complete at once keep referring to the buffer), a server-first
// origin that speaks before the tunnel is wired up loses nothing, the origin's half-close reaches
// the client, and idle tunnels after a burst do not each keep a 64 KiB buffer.
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { MAX_OWNED_READ_BUFFERS, OriginReader, originReadBuffers } from './origin-reader.js';
import { startTestGateway, type TestGateway } from './testing/gateway-fixture.js';
import { type Origin, startTcpOrigin } from './testing/origins.js';

const BYTES = 6 * 2 ** 20;
// Random, so that a chunk overwritten by a later read cannot pass for the right bytes.
const payload = randomBytes(BYTES);
const payloadHash = createHash('sha256').update(payload).digest('hex');
const BURST = 256 * 1024;
const IDLE_TUNNELS = 120;

let streaming: Origin;
let banner: Origin;
let burst: Origin;
let gateway: TestGateway;

beforeAll(async () => {
  // Streams the payload in uneven pieces, then half-closes (the client's side stays open).
  streaming = await startTcpOrigin((socket) => {
    let offset = 0;
    const pump = (): void => {
      while (offset < BYTES) {
        const size = Math.min(BYTES - offset, 1000 + ((offset * 7) % 200_000));
        const piece = payload.subarray(offset, offset + size);
        offset += size;
        if (!socket.write(piece)) {
          socket.once('drain', pump);
          return;
        }
      }
      socket.end();
    };
    pump();
  });
  // Speaks at once, before the client sends a byte (the tunnel is not wired up yet).
  banner = await startTcpOrigin((socket) => {
    socket.write('220 hello from the origin\r\n');
    socket.on('data', (data) => socket.write(data));
    socket.on('end', () => socket.end());
  });
  // Sends a burst, then holds the connection without a byte more.
  burst = await startTcpOrigin((socket) => {
    socket.write(payload.subarray(0, BURST));
    socket.on('end', () => socket.end());
  });
  gateway = await startTestGateway({ ports: [streaming.port, banner.port, burst.port] });
});

afterAll(async () => {
  await gateway.close();
  await Promise.all([streaming.close(), banner.close(), burst.close()]);
});

/** Opens a CONNECT tunnel; resolves with the socket and any bytes that followed the 200. */
function openTunnel(port: number): Promise<{ socket: Socket; early: Buffer }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: gateway.port, allowHalfOpen: true });
    let head = Buffer.alloc(0);
    const onData = (data: Buffer): void => {
      head = Buffer.concat([head, data]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      socket.pause();
      if (!head.subarray(0, 12).toString().startsWith('HTTP/1.1 200')) {
        reject(new Error(`CONNECT refused: ${head.toString()}`));
        return;
      }
      resolve({ socket, early: head.subarray(end + 4) });
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(`CONNECT api.powerbi.com:${port} HTTP/1.1\r\nHost: api.powerbi.com:${port}\r\n\r\n`);
  });
}

test('a slow reader gets every byte in order (reused buffers are lent to pending writes)', {
  timeout: 60_000,
}, async () => {
  const { socket, early } = await openTunnel(streaming.port);
  const hash = createHash('sha256').update(early);
  let received = early.length;
  let sincePause = 0;
  await new Promise<void>((resolve, reject) => {
    socket.on('data', (data: Buffer) => {
      hash.update(data);
      received += data.length;
      sincePause += data.length;
      // Stop reading now and then, so that the gateway's writes to this socket back up.
      if (sincePause >= 512 * 1024) {
        sincePause = 0;
        socket.pause();
        setTimeout(() => socket.resume(), 15);
      }
    });
    socket.once('end', resolve);
    socket.once('error', reject);
    socket.resume();
  });
  expect(received).toBe(BYTES);
  expect(hash.digest('hex')).toBe(payloadHash);
  socket.end();
  const [flow] = await gateway.store.waitFor(1, 10_000);
  expect(flow?.outcome).toBe('forwarded');
  expect(flow?.bytesDown).toBe(BYTES + 'HTTP/1.1 200 Connection established\r\n\r\n'.length);
  const buffers = originReadBuffers();
  // Every own buffer is back in the pool once the tunnel is closed.
  expect(buffers.pooled).toBe(buffers.owned);
});

test('a server-first origin: bytes sent before the tunnel is wired up arrive first, then an echo', async () => {
  const { socket, early } = await openTunnel(banner.port);
  let text = early.toString();
  socket.on('data', (data: Buffer) => {
    text += data.toString();
  });
  socket.resume();
  const ended = new Promise<void>((resolve) => socket.once('end', resolve));
  await new Promise((resolve) => setTimeout(resolve, 100));
  socket.end('ping');
  await ended;
  expect(text).toBe('220 hello from the origin\r\nping');
  socket.destroy();
});

test(`${IDLE_TUNNELS} tunnels idle after a burst hold at most the bounded number of read buffers`, {
  timeout: 60_000,
}, async () => {
  const tunnels: Socket[] = [];
  try {
    for (let i = 0; i < IDLE_TUNNELS; i++) {
      const { socket, early } = await openTunnel(burst.port);
      let received = early.length;
      await new Promise<void>((resolve) => {
        if (received >= BURST) resolve();
        socket.on('data', (data: Buffer) => {
          received += data.length;
          if (received >= BURST) resolve();
        });
        socket.resume();
      });
      tunnels.push(socket);
    }
    // Every tunnel carried a burst (read in bulk, so each took an own buffer for a while); now
    // all of them are idle and open, and the buffers that exist are far fewer than the tunnels.
    const buffers = originReadBuffers();
    expect(buffers.owned).toBeLessThanOrEqual(32);
    expect(buffers.owned).toBeLessThanOrEqual(MAX_OWNED_READ_BUFFERS);
    expect(buffers.owned).toBeLessThan(IDLE_TUNNELS);
  } finally {
    for (const socket of tunnels) socket.end();
  }
  await gateway.store.waitFor(2 + IDLE_TUNNELS, 20_000);
  for (const socket of tunnels) socket.destroy();
  const buffers = originReadBuffers();
  expect(buffers.pooled).toBe(buffers.owned);
});

test('a write queued behind the lent buffer by another writer does not stall the relay', {
  timeout: 30_000,
}, async () => {
  // The client's side of a tunnel, made by hand: `target` writes to `peer`, which does not read
  // until the reader has lent its own buffer to a write that cannot complete.
  const peers: Socket[] = [];
  const sink = createServer((socket) => {
    socket.pause();
    peers.push(socket);
  });
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  const target = connect({ host: '127.0.0.1', port: (sink.address() as AddressInfo).port });
  await once(target, 'connect');
  while (peers.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  const peer = peers[0] as Socket;
  const reader = new OriginReader();
  const origin = connect({ host: '127.0.0.1', port: streaming.port, onread: reader.onread });
  try {
    await once(origin, 'connect');
    reader.attach(origin, target);
    // Lent: a write into the own buffer is in flight and reading has stopped.
    const started = Date.now();
    let last = -1;
    while (Date.now() - started < 10_000) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      if (target.writableLength > 0 && origin.bytesRead === last && origin.bytesRead >= 16 * 1024) break;
      last = origin.bytesRead;
    }
    expect(target.writableLength).toBeGreaterThan(0);
    // Another writer's bytes, queued behind the lent write (too many to leave at once).
    const extra = Buffer.alloc(4 * 2 ** 20, 0x78);
    target.write(extra);
    let received = 0;
    const all = BYTES + extra.length;
    const done = new Promise<void>((resolve) => {
      peer.on('data', (data: Buffer) => {
        received += data.length;
        if (received >= all) resolve();
      });
    });
    peer.resume();
    await Promise.race([done, new Promise((resolve) => setTimeout(resolve, 8_000))]);
    expect(received).toBe(all);
  } finally {
    reader.release();
    origin.destroy();
    target.destroy();
    for (const socket of peers) socket.destroy();
    sink.close();
  }
});
