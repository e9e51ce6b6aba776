// Request smuggling through Connection-named framing headers (issue 10, item 1). A request whose
// `Connection` or `Proxy-Connection` names `Content-Length` or `Transfer-Encoding` would have that
// header removed as hop-by-hop while its body is still forwarded; the next hop then reads the body
// as a second request the gateway never checked. The gateway refuses such a request (400
// PW_GW_BAD_FRAMING). Checked against a real origin that logs every request it parses, directly and
// through Debian's Squid as the circuit's upstream proxy: what the origin sees is exactly what the
// gateway forwarded and recorded.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { needPeers } from '../testing/peers.js';
import { RawClient } from './testing/clients.js';
import { startTestGateway, type TestGateway } from './testing/gateway-fixture.js';
import { type LoggingOrigin, startLoggingOrigin } from './testing/logging-origin.js';
import { startSquid, type UpstreamProxyPeer } from './testing/upstream-proxies.js';

interface Shape {
  name: string;
  /** The framing header(s) and the Connection-like header that names them. */
  headers: string;
  /** The body as sent, given the smuggled request (origin-form or absolute-form). */
  body(smuggled: string): string;
}

const lengthBody = (smuggled: string) => smuggled;
const chunkedBody = (smuggled: string) => `${smuggled.length.toString(16)}\r\n${smuggled}\r\n0\r\n\r\n`;

/** Each shape names the framing header in a hop-by-hop list; `CL` / `TE` stand for the length. */
const shapes: Shape[] = [
  {
    name: 'Connection: Content-Length',
    headers: 'Content-Length: CL\r\nConnection: Content-Length',
    body: lengthBody,
  },
  {
    name: 'Connection: keep-alive, Content-Length',
    headers: 'Content-Length: CL\r\nConnection: keep-alive, Content-Length',
    body: lengthBody,
  },
  {
    name: 'Proxy-Connection: Content-Length',
    headers: 'Content-Length: CL\r\nProxy-Connection: content-length',
    body: lengthBody,
  },
  {
    name: 'Connection: Transfer-Encoding',
    headers: 'Transfer-Encoding: chunked\r\nConnection: Transfer-Encoding',
    body: chunkedBody,
  },
  {
    name: 'Proxy-Connection: keep-alive, TRANSFER-ENCODING',
    headers: 'Transfer-Encoding: chunked\r\nProxy-Connection: keep-alive, TRANSFER-ENCODING',
    body: chunkedBody,
  },
];

function attack(shape: Shape, host: string, port: number, smuggled: string): string {
  const body = shape.body(smuggled);
  const headers = shape.headers.replace('CL', String(Buffer.byteLength(body)));
  return `POST http://${host}:${port}/a HTTP/1.1\r\nHost: ${host}\r\n${headers}\r\n\r\n${body}`;
}

/** Waits a little for late bytes (a smuggled request) to reach the origin. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 400));

async function send(gateway: TestGateway, bytes: string) {
  const client = await RawClient.open(gateway.port);
  try {
    client.write(bytes);
    return await client.response();
  } finally {
    client.close();
  }
}

describe('smuggling through Connection-named framing headers, origin direct', () => {
  let origin: LoggingOrigin;
  let gateway: TestGateway;

  beforeAll(async () => {
    origin = await startLoggingOrigin();
    gateway = await startTestGateway({ ports: [origin.port] });
  });

  afterAll(async () => {
    await gateway?.close();
    await origin?.close();
  });

  test('the harness sees smuggling: the same body framed honestly is one request with that body', async () => {
    const before = origin.requests.length;
    const smuggled = 'GET /SMUGGLED HTTP/1.1\r\nHost: api.powerbi.com\r\n\r\n';
    const response = await send(
      gateway,
      `POST http://api.powerbi.com:${origin.port}/a HTTP/1.1\r\nHost: api.powerbi.com\r\nContent-Length: ${smuggled.length}\r\nConnection: keep-alive\r\n\r\n${smuggled}`,
    );
    await settle();
    expect(response.status).toBe(200);
    expect(origin.requests.slice(before)).toMatchObject([{ method: 'POST', target: '/a', body: smuggled }]);
    expect(gateway.flowsFor('api.powerbi.com').filter((flow) => flow.outcome === 'forwarded')).toHaveLength(
      1,
    );
  });

  test('the exact bytes of the issue are refused and nothing reaches the origin', async () => {
    const before = origin.requests.length;
    const flowsBefore = gateway.store.flows.length;
    const bytes = `POST http://api.powerbi.com:${origin.port}/a HTTP/1.1\r\nHost: api.powerbi.com\r\nContent-Length: 49\r\nConnection: Content-Length\r\n\r\nGET /SMUGGLED HTTP/1.1\r\nHost: api.powerbi.com\r\n\r\n`;
    const response = await send(gateway, bytes);
    await settle();
    expect(origin.requests.slice(before)).toEqual([]);
    expect(response.status).toBe(400);
    expect(response.headers['x-pathwarden-error']).toBe('PW_GW_BAD_FRAMING');
    await gateway.store.waitFor(flowsBefore + 1);
    expect(gateway.store.flows.slice(flowsBefore)).toMatchObject([
      { outcome: 'error', error: 'PW_GW_BAD_FRAMING' },
    ]);
  });

  test.each(shapes)('$name: refused with 400, the origin sees no request', async (shape) => {
    const before = origin.requests.length;
    const flowsBefore = gateway.store.flows.length;
    const smuggled = 'GET /SMUGGLED HTTP/1.1\r\nHost: api.powerbi.com\r\n\r\n';
    const response = await send(gateway, attack(shape, 'api.powerbi.com', origin.port, smuggled));
    await settle();
    const forwarded = gateway.store.flows.slice(flowsBefore).filter((flow) => flow.outcome === 'forwarded');
    // Whatever else happens, the origin never parses more requests than the gateway forwarded.
    expect(origin.requests.slice(before)).toHaveLength(forwarded.length);
    expect(response.status).toBe(400);
    expect(response.headers['x-pathwarden-error']).toBe('PW_GW_BAD_FRAMING');
    expect(origin.requests.slice(before)).toEqual([]);
  });
});

describe.skipIf(!needPeers('squid'))(
  'smuggling through Connection-named framing headers, Squid as the upstream',
  () => {
    let origin: LoggingOrigin;
    /** A second origin on a port the gateway does not allow: the smuggled request aims here. */
    let secret: LoggingOrigin;
    let squid: UpstreamProxyPeer;
    let gateway: TestGateway;

    beforeAll(async () => {
      origin = await startLoggingOrigin();
      secret = await startLoggingOrigin();
      squid = await startSquid('127.0.0.5', { 'api.powerbi.com': '127.0.0.1' });
      gateway = await startTestGateway({
        ports: [origin.port],
        egress: {
          expressroute: { proxy: `http://127.0.0.1:${squid.port}` },
          internet: { localAddress: '127.0.0.3' },
        },
      });
    }, 60_000);

    afterAll(async () => {
      await gateway?.close();
      await squid?.close();
      await secret?.close();
      await origin?.close();
    });

    test('the smuggled request to a port the gateway denies is itself denied when sent plainly', async () => {
      const response = await send(
        gateway,
        `GET http://api.powerbi.com:${secret.port}/SECRET HTTP/1.1\r\nHost: api.powerbi.com\r\n\r\n`,
      );
      expect(response.headers['x-pathwarden-error']).toBe('PW_GW_PORT_DENIED');
      expect(secret.requests).toEqual([]);
    });

    test('an honest POST through Squid reaches the origin once, with its body', async () => {
      const before = origin.requests.length;
      const response = await send(
        gateway,
        `POST http://api.powerbi.com:${origin.port}/honest HTTP/1.1\r\nHost: api.powerbi.com\r\nContent-Length: 5\r\n\r\nhello`,
      );
      await settle();
      expect(response.status).toBe(200);
      expect(origin.requests.slice(before)).toMatchObject([
        { method: 'POST', target: '/honest', body: 'hello', remoteAddress: '127.0.0.5' },
      ]);
    });

    test.each(shapes)(
      '$name: refused with 400; neither Squid nor any origin sees a request',
      async (shape) => {
        const before = origin.requests.length;
        const squidBefore = squid.requests().length;
        const smuggled = `GET http://api.powerbi.com:${secret.port}/SMUGGLED HTTP/1.1\r\nHost: api.powerbi.com:${secret.port}\r\n\r\n`;
        const response = await send(gateway, attack(shape, 'api.powerbi.com', origin.port, smuggled));
        await settle();
        expect(secret.requests).toEqual([]);
        expect(origin.requests.slice(before)).toEqual([]);
        expect(squid.requests().slice(squidBefore)).toEqual([]);
        expect(response.status).toBe(400);
        expect(response.headers['x-pathwarden-error']).toBe('PW_GW_BAD_FRAMING');
      },
    );
  },
);
