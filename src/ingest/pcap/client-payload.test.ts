import { describe, expect, test } from 'vitest';
import { clientHello } from '../../../test/fixtures/pcap/capture-writer.js';
import { HelloStatus, scanClientHello } from './client-payload.js';

const scan = (bytes: Buffer) => scanClientHello(bytes, 0, bytes.length);

describe('scanClientHello', () => {
  test('reads the server name', () => {
    expect(scan(clientHello('app.powerbi.com'))).toEqual({
      status: HelloStatus.clientHello,
      serverName: 'app.powerbi.com',
    });
  });

  test.each([
    ['one record', clientHello('app.powerbi.com', { padding: 200 })],
    ['two records', clientHello('app.powerbi.com', { padding: 200, recordSplit: 30 })],
  ])('every prefix of a ClientHello (%s) asks for more until the name is there', (_name, hello) => {
    let found = -1;
    for (let length = 0; length <= hello.length; length++) {
      const result = scan(hello.subarray(0, length));
      if (result.status === HelloStatus.clientHello) {
        expect(result.serverName).toBe('app.powerbi.com');
        if (found < 0) found = length;
      } else {
        expect(found).toBe(-1);
        expect(result.status).toBe(HelloStatus.incomplete);
      }
    }
    // The name is known before the padding after it has arrived.
    expect(found).toBeGreaterThan(0);
    expect(found).toBeLessThan(hello.length - 200);
  });

  test('a ClientHello without server_name is known only once complete', () => {
    const hello = clientHello(null);
    expect(scan(hello)).toEqual({ status: HelloStatus.clientHello, serverName: null });
    expect(scan(hello.subarray(0, hello.length - 1)).status).toBe(HelloStatus.incomplete);
  });

  test('other TLS records, other protocols, broken framing', () => {
    expect(scan(Buffer.from([0x17, 0x03, 0x03, 0x00, 0x05, 1, 2, 3, 4, 5])).status).toBe(
      HelloStatus.tlsOther,
    );
    expect(scan(Buffer.from('GET / HTTP/1.1\r\n')).status).toBe(HelloStatus.notTls);
    expect(scan(Buffer.from('SSH-2.0-OpenSSH_9.2\r\n')).status).toBe(HelloStatus.notTls);
    expect(scan(Buffer.from([0x16, 0x03, 0x09, 0x00, 0x10])).status).toBe(HelloStatus.notTls);
    expect(scan(Buffer.from([0x16, 0x03, 0x03, 0x00, 0x00])).status).toBe(HelloStatus.tlsOther);
    // A ServerHello (handshake type 2) where a ClientHello should be.
    expect(scan(Buffer.from([0x16, 0x03, 0x03, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00])).status).toBe(
      HelloStatus.tlsOther,
    );
    expect(scan(Buffer.alloc(0)).status).toBe(HelloStatus.incomplete);
    expect(scan(Buffer.from([0x16])).status).toBe(HelloStatus.incomplete);
  });

  test('a server name with control characters is not taken', () => {
    expect(scan(clientHello('bad\u0001name.example')).serverName).toBeNull();
    expect(scan(clientHello('has space.example')).serverName).toBeNull();
  });

  test('lengths that lie do not read out of bounds', () => {
    const hello = clientHello('app.powerbi.com');
    for (let at = 5; at < hello.length; at++) {
      for (const value of [0x00, 0x7f, 0xff]) {
        const damaged = Buffer.from(hello);
        damaged[at] = value;
        const result = scan(damaged);
        expect(Object.values(HelloStatus)).toContain(result.status);
      }
    }
  });

  test('random bytes after a handshake record header', () => {
    let seed = 7;
    for (let round = 0; round < 2000; round++) {
      const body = Buffer.alloc(1 + (round % 300));
      for (let i = 0; i < body.length; i++) {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        body[i] = seed & 0xff;
      }
      body[0] = 1;
      const record = Buffer.concat([
        Buffer.from([0x16, 0x03, 0x01, body.length >> 8, body.length & 0xff]),
        body,
      ]);
      expect(Object.values(HelloStatus)).toContain(scan(record).status);
    }
  });
});
