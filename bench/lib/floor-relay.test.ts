import { createHash, randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createFloorRelay } from './floor-relay.js';

const open: Server[] = [];
const sockets = new Set<Socket>();
afterEach(async () => {
  for (const socket of sockets) socket.destroy();
  sockets.clear();
  for (const server of open.splice(0)) {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

async function listen(server: Server): Promise<number> {
  open.push(server);
  server.on('connection', (socket: Socket) => sockets.add(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

/** An origin that answers every connection with a SHA-256 of what it read, then the bytes `down`. */
function hashingOrigin(down: Buffer): Server {
  return createServer((socket) => {
    const hash = createHash('sha256');
    socket.on('data', (chunk: Buffer) => {
      hash.update(chunk);
    });
    socket.on('end', () => {
      socket.write(`${hash.digest('hex')}\n`);
      socket.end(down);
    });
  });
}

/** Everything a socket reads until its end. */
function readAll(socket: Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('end', () => resolve(Buffer.concat(chunks)));
    socket.once('error', reject);
  });
}

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('floor relay (bench:gateway --floor)', () => {
  it('relays plain bytes both ways to the fixed origin, through half-closes, megabytes each way', async () => {
    const up = randomBytes(6 << 20);
    const down = randomBytes(5 << 20);
    const originPort = await listen(hashingOrigin(down));
    const relayPort = await listen(
      createFloorRelay({ origin: { host: '127.0.0.1', port: originPort }, map: new Map() }),
    );
    const client = connect({ host: '127.0.0.1', port: relayPort });
    client.on('connect', () => client.end(up));
    const answer = await readAll(client);
    const newline = answer.indexOf('\n');
    expect(answer.subarray(0, newline).toString()).toBe(sha(up));
    expect(sha(answer.subarray(newline + 1))).toBe(sha(down));
  });

  it('answers a CONNECT to a mapped name with 200, then relays both ways, bytes after the head included', async () => {
    const up = randomBytes(3 << 20);
    const down = randomBytes(4 << 20);
    const originPort = await listen(hashingOrigin(down));
    const relayPort = await listen(
      createFloorRelay({
        // The plain-HTTP origin is elsewhere: the tunnel must go where the CONNECT names.
        origin: { host: '127.0.0.1', port: 1 },
        map: new Map([['api.powerbi.com', '127.0.0.1']]),
      }),
    );
    const client = connect({ host: '127.0.0.1', port: relayPort });
    await new Promise((resolve) => client.once('connect', resolve));
    // The head and the first tunnel bytes in one write, as a client that does not wait for the 200.
    client.write(
      Buffer.concat([
        Buffer.from(
          `CONNECT api.powerbi.com:${originPort} HTTP/1.1\r\nHost: api.powerbi.com:${originPort}\r\n\r\n`,
        ),
        up.subarray(0, 1000),
      ]),
    );
    client.end(up.subarray(1000));
    const answer = await readAll(client);
    const head = 'HTTP/1.1 200 Connection Established\r\n\r\n';
    expect(answer.subarray(0, head.length).toString()).toBe(head);
    const body = answer.subarray(head.length);
    const newline = body.indexOf('\n');
    expect(body.subarray(0, newline).toString()).toBe(sha(up));
    expect(sha(body.subarray(newline + 1))).toBe(sha(down));
  });

  it('a slow reader gets every byte of a CONNECT download in order (read buffers are reused only once written)', async () => {
    const down = randomBytes(12 << 20);
    const originPort = await listen(createServer((socket) => socket.end(down)));
    const relayPort = await listen(
      createFloorRelay({ origin: { host: '127.0.0.1', port: 1 }, map: new Map() }),
    );
    const client = connect({ host: '127.0.0.1', port: relayPort });
    client.write(`CONNECT 127.0.0.1:${originPort} HTTP/1.1\r\n\r\n`);
    const chunks: Buffer[] = [];
    let reads = 0;
    client.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      // Every eighth read waits 5 ms: the relay's writes to this client queue up meanwhile.
      if (++reads % 8 === 0) {
        client.pause();
        setTimeout(() => client.resume(), 5);
      }
    });
    await new Promise((resolve, reject) => {
      client.once('end', resolve);
      client.once('error', reject);
    });
    const answer = Buffer.concat(chunks);
    const head = 'HTTP/1.1 200 Connection Established\r\n\r\n';
    expect(answer.subarray(0, head.length).toString()).toBe(head);
    expect(answer.length - head.length).toBe(down.length);
    expect(sha(answer.subarray(head.length))).toBe(sha(down));
  });

  it('answers 502 when the CONNECT target refuses, and 400 to a malformed CONNECT', async () => {
    const closed = await listen(createServer());
    await new Promise<void>((resolve) => (open.pop() as Server).close(() => resolve()));
    const relayPort = await listen(
      createFloorRelay({ origin: { host: '127.0.0.1', port: 1 }, map: new Map() }),
    );
    const ask = async (head: string) => {
      const client = connect({ host: '127.0.0.1', port: relayPort });
      client.write(head);
      return (await readAll(client)).toString();
    };
    expect(await ask(`CONNECT 127.0.0.1:${closed} HTTP/1.1\r\n\r\n`)).toMatch(/^HTTP\/1\.1 502 /);
    expect(await ask('CONNECT nowhere HTTP/1.1\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 /);
  });
});
