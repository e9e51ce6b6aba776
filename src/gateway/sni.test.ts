// The SNI policy of CONNECT tunnels: the ClientHello is read (however it is split over TCP reads),
// its server name compared with the CONNECT host, and `decisions.sniMismatch` applied: `reject`
// ends the tunnel with a TLS access_denied alert; `use-sni` routes the SNI name from scratch.
import { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { RawClient, tlsThroughProxy } from './testing/clients.js';
import {
  CIRCUIT_SOURCE,
  INTERNET_SOURCE,
  startTestGateway,
  type TestGateway,
} from './testing/gateway-fixture.js';
import { type Origin, startTlsOrigin } from './testing/origins.js';

describe('sniMismatch: reject (the default)', () => {
  let tls: Origin;
  let gateway: TestGateway;

  beforeAll(async () => {
    tls = await startTlsOrigin();
    gateway = await startTestGateway({ ports: [tls.port], limits: { headersTimeoutMs: 300 } });
  });

  afterAll(async () => {
    await gateway.close();
    await tls.close();
  });

  test('an SNI that differs from the CONNECT host gets a TLS access_denied alert; nothing reaches the origin', async () => {
    const result = await tlsThroughProxy({
      proxyPort: gateway.port,
      connectHost: 'maxcdn.bootstrapcdn.com',
      servername: 'api.powerbi.com',
      port: tls.port,
    });
    expect(result.connect.status).toBe(200);
    expect(result.error).toMatch(/access denied/i);
    expect(tls.seen).toHaveLength(0);
    const flow = await gateway.flowMatching((f) => f.error === 'PW_GW_SNI_MISMATCH');
    expect(flow).toMatchObject({
      host: 'maxcdn.bootstrapcdn.com',
      sni: 'api.powerbi.com',
      outcome: 'denied',
      error: 'PW_GW_SNI_MISMATCH',
      protocol: 'tls',
    });
  });

  test('matching SNI (any case) and no SNI at all are tunnelled on the CONNECT host path', async () => {
    const matching = await tlsThroughProxy({
      proxyPort: gateway.port,
      connectHost: 'api.powerbi.com',
      servername: 'API.PowerBI.com',
      port: tls.port,
    });
    expect(matching.status).toBe(200);
    const none = await tlsThroughProxy({
      proxyPort: gateway.port,
      connectHost: 'maxcdn.bootstrapcdn.com',
      servername: '',
      port: tls.port,
    });
    expect(none.status).toBe(200);
    expect(tls.seen.map((entry) => entry.remoteAddress)).toEqual([CIRCUIT_SOURCE, INTERNET_SOURCE]);
    const flow = await gateway.flowMatching((f) => f.host === 'maxcdn.bootstrapcdn.com' && f.sni === null);
    expect(flow).toMatchObject({ protocol: 'tls', outcome: 'forwarded', egressPath: 'internet' });
  });

  test('a ClientHello dribbled over many small TCP writes is still read', async () => {
    const client = await RawClient.open(gateway.port);
    client.write(`CONNECT api.powerbi.com:${tls.port} HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect((await client.response()).status).toBe(200);
    client.socket.removeAllListeners('data');
    const socket = client.socket;
    // A duplex that hands each write to the socket in 40-byte pieces, 5 ms apart.
    const dribbling = new Duplex({
      write(chunk: Buffer, _encoding, callback) {
        let at = 0;
        const next = () => {
          if (at >= chunk.length) return callback();
          socket.write(chunk.subarray(at, at + 40));
          at += 40;
          setTimeout(next, 5);
        };
        next();
      },
      read() {},
    });
    socket.on('data', (data: Buffer) => dribbling.push(data));
    socket.on('end', () => dribbling.push(null));
    const secure = tlsConnect({
      socket: dribbling as never,
      servername: 'api.powerbi.com',
      rejectUnauthorized: false,
    });
    const text = await new Promise<string>((resolve, reject) => {
      let received = '';
      secure.on('secureConnect', () => secure.write('GET / HTTP/1.1\r\n\r\n'));
      secure.on('data', (chunk: Buffer) => {
        received += chunk.toString();
      });
      secure.on('end', () => resolve(received));
      secure.on('error', reject);
    });
    client.close();
    expect(text).toContain(`hello api.powerbi.com from ${CIRCUIT_SOURCE}`);
  });

  test('a ClientHello that starts and stalls is cut after headersTimeoutMs', async () => {
    const client = await RawClient.open(gateway.port);
    client.write(`CONNECT api.powerbi.com:${tls.port} HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect((await client.response()).status).toBe(200);
    client.write(Buffer.from([22, 3, 1, 2, 0, 1, 0, 1, 252, 3, 3]));
    await client.closed;
    client.close();
    const flow = await gateway.flowMatching((f) => f.error === 'PW_GW_CLIENT_HELLO_TIMEOUT');
    expect(flow).toMatchObject({ outcome: 'error', protocol: 'tcp' });
  });

  test('a handshake record that is not a ClientHello is refused with a decode_error alert', async () => {
    const client = await RawClient.open(gateway.port);
    client.write(`CONNECT api.powerbi.com:${tls.port} HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect((await client.response()).status).toBe(200);
    client.write(Buffer.from([22, 3, 3, 0, 4, 2, 0, 0, 0]));
    const rest = await client.rest();
    client.close();
    expect([...rest]).toEqual([21, 3, 1, 0, 2, 2, 50]);
    const flow = await gateway.flowMatching((f) => f.error === 'PW_GW_BAD_CLIENT_HELLO');
    expect(flow).toMatchObject({ outcome: 'error', protocol: 'tls' });
  });
});

describe('sniMismatch: use-sni', () => {
  let tls: Origin;
  let gateway: TestGateway;

  beforeAll(async () => {
    tls = await startTlsOrigin();
    gateway = await startTestGateway({
      ports: [tls.port],
      decisions: { sniMismatch: 'use-sni' },
      resolve: {
        'api.powerbi.com': '127.0.0.1',
        'maxcdn.bootstrapcdn.com': '127.0.0.1',
        'meta.lab.test': '169.254.169.254',
      },
    });
  });

  afterAll(async () => {
    await gateway.close();
    await tls.close();
  });

  test('the SNI decides the path: an Internet CONNECT host with a circuit SNI rides the circuit', async () => {
    const result = await tlsThroughProxy({
      proxyPort: gateway.port,
      connectHost: 'maxcdn.bootstrapcdn.com',
      servername: 'api.powerbi.com',
      port: tls.port,
    });
    expect(result.status).toBe(200);
    expect(tls.seen.at(-1)).toEqual({ remoteAddress: CIRCUIT_SOURCE, name: 'api.powerbi.com' });
    const flow = await gateway.flowMatching(
      (f) => f.host === 'maxcdn.bootstrapcdn.com' && f.sni === 'api.powerbi.com',
    );
    expect(flow).toMatchObject({
      ruleId: 'service.backend-api',
      egressPath: 'expressroute',
      outcome: 'forwarded',
    });
  });

  test('an SNI that is refused on its own (a metadata name) ends the tunnel with an alert', async () => {
    const seen = tls.seen.length;
    const result = await tlsThroughProxy({
      proxyPort: gateway.port,
      connectHost: 'api.powerbi.com',
      servername: 'meta.lab.test',
      port: tls.port,
    });
    expect(result.error).toMatch(/access denied/i);
    expect(tls.seen.length).toBe(seen);
    const flow = await gateway.flowMatching((f) => f.sni === 'meta.lab.test');
    expect(flow).toMatchObject({ outcome: 'denied', error: 'PW_GW_DESTINATION_DENIED' });
  });
});
