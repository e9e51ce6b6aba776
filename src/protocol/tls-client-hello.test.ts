import { createServer, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { describe, expect, test } from 'vitest';
import { readClientHello, readClientHelloHandshake, tlsAlert } from './tls-client-hello.js';

/** The first bytes a real TLS client (Node's OpenSSL) sends, captured on a loopback socket. */
async function captureClientHello(servername: string | undefined): Promise<Buffer> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      server.once('connection', (socket: Socket) => {
        let data = Buffer.alloc(0);
        socket.on('data', (chunk: Buffer) => {
          data = Buffer.concat([data, chunk]);
          if (data.length >= 5 && data.length >= 5 + data.readUInt16BE(3)) {
            socket.destroy();
            resolve(data);
          }
        });
      });
      const client = tlsConnect({
        host: '127.0.0.1',
        port,
        ...(servername ? { servername } : {}),
        rejectUnauthorized: false,
      });
      client.on('error', () => {});
      setTimeout(() => reject(new Error('no ClientHello')), 5000).unref();
    });
  } finally {
    server.close();
  }
}

/** Splits one handshake record into several records of at most `size` bytes of payload. */
function refragment(hello: Buffer, size: number): Buffer {
  const payload = hello.subarray(5);
  const records: Buffer[] = [];
  for (let at = 0; at < payload.length; at += size) {
    const part = payload.subarray(at, at + size);
    const header = Buffer.from([22, 3, 1, 0, 0]);
    header.writeUInt16BE(part.length, 3);
    records.push(header, part);
  }
  return Buffer.concat(records);
}

describe('ClientHello SNI', () => {
  test('reads the server name of a real ClientHello, canonical', async () => {
    const hello = await captureClientHello('API.PowerBI.com');
    expect(readClientHello(hello)).toEqual({ kind: 'hello', sni: 'api.powerbi.com' });
  });

  test('is partial on every prefix, byte by byte (a hello split over many reads)', async () => {
    const hello = await captureClientHello('app.powerbi.com');
    for (let length = 0; length < hello.length; length++) {
      expect(readClientHello(hello.subarray(0, length)).kind, `prefix ${length}`).toBe('partial');
    }
    expect(readClientHello(Buffer.concat([hello, Buffer.from('more')]))).toEqual({
      kind: 'hello',
      sni: 'app.powerbi.com',
    });
  });

  test('reassembles a hello fragmented over several TLS records', async () => {
    const hello = refragment(await captureClientHello('x.analysis.windows.net'), 50);
    expect(readClientHello(hello)).toEqual({ kind: 'hello', sni: 'x.analysis.windows.net' });
    expect(readClientHello(hello.subarray(0, hello.length - 1)).kind).toBe('partial');
  });

  test('a hello without SNI (a client dialing an IP address)', async () => {
    expect(readClientHello(await captureClientHello(undefined))).toEqual({ kind: 'hello', sni: null });
  });

  test('not TLS, and malformed handshakes', async () => {
    expect(readClientHello(Buffer.from('GET / HTTP/1.1\r\n')).kind).toBe('not-tls');
    expect(readClientHello(Buffer.from([22, 9, 1, 0, 5, 1, 0, 0, 1, 0])).kind).toBe('malformed');
    expect(readClientHello(Buffer.from([22, 3, 1, 0, 4, 2, 0, 0, 0])).kind).toBe('malformed'); // ServerHello
    expect(readClientHello(Buffer.from([22, 3, 1, 0, 0])).kind).toBe('malformed'); // empty record
    const hello = await captureClientHello('a.powerbi.com');
    const broken = Buffer.from(hello);
    broken.writeUInt16BE(broken.readUInt16BE(5 + 4 + 2 + 32 + 1 + 32) + 7000, 5 + 4 + 2 + 32 + 1 + 32);
    expect(readClientHello(broken).kind).toBe('malformed');
  });

  test('the refusal alert is a fatal TLS alert record', () => {
    expect([...tlsAlert('access_denied')]).toEqual([21, 3, 1, 0, 2, 2, 49]);
  });
});

describe('ClientHello from handshake bytes (no TLS records, as QUIC CRYPTO frames carry it)', () => {
  test('reads the same name as from the records, and is partial on every prefix', async () => {
    const records = await captureClientHello('api.powerbi.com');
    const handshake = records.subarray(5, 5 + records.readUInt16BE(3));
    expect(readClientHelloHandshake(handshake)).toEqual({ kind: 'hello', sni: 'api.powerbi.com' });
    expect(readClientHelloHandshake(new Uint8Array(handshake))).toEqual({
      kind: 'hello',
      sni: 'api.powerbi.com',
    });
    for (const length of [0, 1, 3, 4, 40, handshake.length - 1]) {
      expect(readClientHelloHandshake(handshake.subarray(0, length)).kind, `prefix ${length}`).toBe(
        'partial',
      );
    }
  });

  test('early mode names the server before the rest of the hello is in', async () => {
    const records = await captureClientHello('app.powerbi.com');
    const handshake = records.subarray(5, 5 + records.readUInt16BE(3));
    let first = -1;
    for (let length = 0; length <= handshake.length && first < 0; length++) {
      const result = readClientHelloHandshake(handshake.subarray(0, length), { early: true });
      if (result.kind === 'hello') {
        expect(result.sni).toBe('app.powerbi.com');
        first = length;
      } else expect(result.kind).toBe('partial');
    }
    expect(first).toBeGreaterThan(0);
    expect(first).toBeLessThan(handshake.length);
  });

  test('a handshake message that is not a ClientHello is malformed at once', () => {
    expect(readClientHelloHandshake(Buffer.from([2])).kind).toBe('malformed');
  });
});
