// A request whose body arrived with its head goes to the origin in one write (the socket is corked
// around the head and the buffered body), not as a head segment followed by a body segment. The
// origin runs in this process, so it cannot see the segments apart: the test counts the writes
// the socket to the origin hands down (`_write` per chunk, or one `_writev` for corked chunks).
import { Socket } from 'node:net';
import { afterAll, beforeAll, expect, test, vi } from 'vitest';
import { RawClient } from './testing/clients.js';
import { startTestGateway, type TestGateway } from './testing/gateway-fixture.js';
import { type Origin, startTcpOrigin } from './testing/origins.js';

const chunks: Buffer[] = [];
let origin: Origin;
let gateway: TestGateway;

beforeAll(async () => {
  origin = await startTcpOrigin((socket) => {
    socket.on('data', (data: Buffer) => {
      chunks.push(data);
      if (Buffer.concat(chunks).includes('hello')) {
        socket.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok');
      }
    });
  });
  gateway = await startTestGateway({ ports: [origin.port] });
});

afterAll(async () => {
  await gateway.close();
  await origin.close();
});

test('the head and a body that came with it reach the origin in one write', async () => {
  const writes: string[] = [];
  const proto = Socket.prototype as unknown as Record<'_write' | '_writev', (...args: unknown[]) => void>;
  const write = proto._write;
  const writev = proto._writev;
  const toOrigin = (socket: Socket) => socket.remotePort === origin.port;
  const spies = [
    vi.spyOn(proto, '_write').mockImplementation(function (this: Socket, ...args: unknown[]) {
      if (toOrigin(this)) writes.push('write');
      return write.apply(this, args);
    }),
    vi.spyOn(proto, '_writev').mockImplementation(function (this: Socket, ...args: unknown[]) {
      if (toOrigin(this)) writes.push('writev');
      return writev.apply(this, args);
    }),
  ];
  const client = await RawClient.open(gateway.port);
  const authority = `api.powerbi.com:${origin.port}`;
  client.write(
    `POST http://${authority}/upload HTTP/1.1\r\nHost: ${authority}\r\nContent-Length: 5\r\n\r\nhello`,
  );
  const response = await client.response();
  client.close();
  for (const spy of spies) spy.mockRestore();
  expect(writes).toEqual(['writev']);
  expect(response.status).toBe(200);
  const received = Buffer.concat(chunks).toString('latin1');
  expect(received.startsWith('POST /upload HTTP/1.1\r\n')).toBe(true);
  expect(received.endsWith('\r\n\r\nhello')).toBe(true);
});
