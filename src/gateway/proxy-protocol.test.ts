// The proxy on the wire: keep-alive with bodies, strict parsing (400 / 431 / 408, never a crash),
// request-smuggling shapes, half-close, early data after CONNECT, IPv6 literals, origins that
// reset or misbehave, proxy authentication and the client allow-list.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { curl, RawClient } from './testing/clients.js';
import { CIRCUIT_SOURCE, startTestGateway, type TestGateway } from './testing/gateway-fixture.js';
import { type Origin, startHttpOrigin, startTcpOrigin } from './testing/origins.js';

const API = 'api.powerbi.com';
const CONNECTED = 'HTTP/1.1 200 Connection established\r\n\r\n';

describe('HTTP forwarding and strict parsing', () => {
  let http: Origin;
  let echo: Origin;
  let gateway: TestGateway;
  let requests: {
    method: string;
    url: string;
    host: string;
    headers: Record<string, string | string[] | undefined>;
  }[];

  beforeAll(async () => {
    requests = [];
    http = await startHttpOrigin((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        requests.push({
          method: request.method ?? '',
          url: request.url ?? '',
          host: request.headers.host ?? '',
          headers: request.headers,
        });
        if (request.url === '/hang') return; // never answered: the upstream idle timeout's case
        const body = JSON.stringify({
          url: request.url,
          body: Buffer.concat(chunks).toString(),
          trailers: request.trailers,
        });
        response.writeHead(200, { 'content-length': Buffer.byteLength(body), 'keep-alive': 'timeout=30' });
        response.end(body);
      });
    });
    echo = await startTcpOrigin();
    gateway = await startTestGateway({
      ports: [http.port, echo.port],
      limits: { headerBytes: 2048, headersTimeoutMs: 300, idleTimeoutMs: 1000 },
    });
  });

  afterAll(async () => {
    await gateway.close();
    await http.close();
    await echo.close();
  });

  const url = (path: string, host = API) => `http://${host}:${http.port}${path}`;

  test('keep-alive: Content-Length and chunked bodies, pipelining; one record per request, one upstream connection', async () => {
    const connectionsBefore = http.seen.length;
    const traced: unknown[] = [];
    const trace = (record: unknown) => traced.push(record);
    subscribe('pathwarden:gateway:flow', trace);
    const client = await RawClient.open(gateway.port);
    try {
      client.write(`POST ${url('/one')} HTTP/1.1\r\nHost: ${API}\r\nContent-Length: 5\r\n\r\nhello`);
      expect(JSON.parse((await client.response()).body)).toMatchObject({ url: '/one', body: 'hello' });
      client.write(
        `PUT ${url('/two')} HTTP/1.1\r\nHost: ${API}\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n` +
          '3;ext=1\r\nabc\r\n4\r\ndefg\r\n0\r\nX-Sum: 7\r\n\r\n',
      );
      expect(JSON.parse((await client.response()).body)).toMatchObject({
        url: '/two',
        body: 'abcdefg',
        trailers: { 'x-sum': '7' },
      });
      client.write(
        `GET ${url('/three')} HTTP/1.1\r\nHost: ${API}\r\n\r\nGET ${url('/four')} HTTP/1.1\r\nHost: ${API}\r\n\r\n`,
      );
      expect(JSON.parse((await client.response()).body).url).toBe('/three');
      const fourth = await client.response();
      expect(JSON.parse(fourth.body).url).toBe('/four');
      expect(fourth.headers['keep-alive']).toBeUndefined(); // hop-by-hop: not passed on
    } finally {
      client.close();
      unsubscribe('pathwarden:gateway:flow', trace);
    }
    expect(traced).toHaveLength(4); // the diagnostics channel sees every record
    expect(http.seen.length).toBe(connectionsBefore + 1);
    const flows = gateway.flowsFor(API).slice(-4);
    expect(flows.map((flow) => flow.httpHost)).toEqual([API, API, API, API]);
    expect(new Set(flows.map((flow) => flow.connectionId)).size).toBe(1);
    expect(flows.every((flow) => flow.egressPath === 'expressroute' && flow.outcome === 'forwarded')).toBe(
      true,
    );
  });

  test('the Host header is the URL authority; hop-by-hop and Connection-named headers are dropped', async () => {
    const client = await RawClient.open(gateway.port);
    try {
      client.write(
        `GET ${url('/h')} HTTP/1.1\r\nHost: evil.example\r\nConnection: X-Secret\r\nX-Secret: 1\r\n` +
          'Proxy-Authorization: Basic Zm9vOmJhcg==\r\nKeep-Alive: 5\r\nX-Kept: yes\r\n\r\n',
      );
      await client.response();
    } finally {
      client.close();
    }
    const seen = requests.at(-1);
    expect(seen?.host).toBe(`${API}:${http.port}`);
    expect(seen?.headers['x-kept']).toBe('yes');
    for (const name of ['x-secret', 'proxy-authorization', 'keep-alive'])
      expect(seen?.headers[name], name).toBeUndefined();
    expect(gateway.flowsFor(API).at(-1)?.httpHost).toBe('evil.example');
  });

  test.each([
    ['garbage', 'HELLO\r\n\r\n', 'PW_GW_BAD_REQUEST', 400],
    ['bare LF', `GET ${'http://api.powerbi.com/'} HTTP/1.1\nHost: a\n\n`, 'PW_GW_BAD_REQUEST', 400],
    ['obs-fold', `GET http://${API}/ HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n`, 'PW_GW_BAD_REQUEST', 400],
    ['space before colon', `GET http://${API}/ HTTP/1.1\r\nHost : a\r\n\r\n`, 'PW_GW_BAD_REQUEST', 400],
    ['origin-form', 'GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', 'PW_GW_NOT_A_PROXY_REQUEST', 400],
    ['an https:// absolute URL', `GET https://${API}/ HTTP/1.1\r\nHost: a\r\n\r\n`, 'PW_GW_UNSUPPORTED', 501],
    ['user info in the URL', `GET http://u:p@${API}/ HTTP/1.1\r\nHost: a\r\n\r\n`, 'PW_GW_BAD_REQUEST', 400],
    ['HTTP/2.0', `GET http://${API}/ HTTP/2.0\r\nHost: a\r\n\r\n`, 'PW_GW_VERSION_UNSUPPORTED', 505],
    ['CONNECT without a port', `CONNECT ${API} HTTP/1.1\r\nHost: a\r\n\r\n`, 'PW_GW_BAD_REQUEST', 400],
  ])('%s -> %s, the connection closes, the gateway keeps serving', async (_name, text, code, status) => {
    const client = await RawClient.open(gateway.port);
    client.write(text);
    const response = await client.response();
    expect(response.status).toBe(status);
    expect(response.headers['x-pathwarden-error']).toBe(code);
    expect(response.body.startsWith(`${code}: `)).toBe(true);
    await client.closed;
    const next = await curl(['-x', `http://127.0.0.1:${gateway.port}`, url('/after')]);
    expect(JSON.parse(next.stdout).url).toBe('/after');
  });

  test('random bytes and truncated requests on 200 connections: answered or closed, never a crash', async () => {
    const seeds = Array.from({ length: 200 }, (_, i) => i);
    const valid = `POST ${url('/fuzz')} HTTP/1.1\r\nHost: ${API}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`;
    for (let start = 0; start < seeds.length; start += 50) {
      await Promise.all(
        seeds.slice(start, start + 50).map(async (seed) => {
          const client = await RawClient.open(gateway.port);
          // Half the cases: a valid request cut or corrupted at a random place; the rest noise.
          const bytes = Buffer.from(valid);
          const cut = (seed * 7919) % bytes.length;
          const payload =
            seed % 2 === 0
              ? Buffer.concat([bytes.subarray(0, cut), Buffer.from([seed % 256]), bytes.subarray(cut + 1)])
              : Buffer.from(Array.from({ length: 64 + (seed % 64) }, (_, i) => (seed * 31 + i * 17) % 256));
          client.write(payload);
          client.socket.end();
          await client.rest(3000);
          client.close();
        }),
      );
    }
    const next = await curl(['-x', `http://127.0.0.1:${gateway.port}`, url('/still-serving')]);
    expect(JSON.parse(next.stdout).url).toBe('/still-serving');
  });

  test.each([
    ['CL + TE', 'Content-Length: 44\r\nTransfer-Encoding: chunked'],
    ['TE + CL', 'Transfer-Encoding: chunked\r\nContent-Length: 44'],
    ['duplicate equal CL', 'Content-Length: 44\r\nContent-Length: 44'],
    ['different CLs', 'Content-Length: 5\r\nContent-Length: 44'],
    ['TE with a second coding', 'Transfer-Encoding: chunked, identity'],
  ])('smuggling shape %s: 400, and neither request reaches the origin', async (_name, framing) => {
    const before = requests.length;
    const connectionsBefore = http.seen.length;
    const client = await RawClient.open(gateway.port);
    client.write(
      `POST ${url('/front')} HTTP/1.1\r\nHost: ${API}\r\n${framing}\r\n\r\n0\r\n\r\nGET ${url('/smuggled')} HTTP/1.1\r\nHost: ${API}\r\n\r\n`,
    );
    const response = await client.response();
    expect(response.status).toBe(400);
    expect(response.headers['x-pathwarden-error']).toBe('PW_GW_BAD_FRAMING');
    await client.closed;
    expect(requests.length).toBe(before);
    expect(http.seen.length).toBe(connectionsBefore);
    expect(gateway.store.flows.at(-1)).toMatchObject({ error: 'PW_GW_BAD_FRAMING', outcome: 'error' });
  });

  test('a bad chunk size mid-body: 400 and close; nothing smuggled behind it', async () => {
    const before = requests.length;
    const client = await RawClient.open(gateway.port);
    client.write(
      `POST ${url('/c')} HTTP/1.1\r\nHost: ${API}\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n`,
    );
    const response = await client.response();
    expect(response.status).toBe(400);
    expect(response.headers['x-pathwarden-error']).toBe('PW_GW_BAD_FRAMING');
    await client.closed;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(requests.length).toBe(before);
  });

  test('oversized head -> 431', async () => {
    const client = await RawClient.open(gateway.port);
    client.write(`GET ${url('/big')} HTTP/1.1\r\nHost: ${API}\r\nX-Big: ${'a'.repeat(3000)}\r\n\r\n`);
    const response = await client.response();
    expect(response.status).toBe(431);
    expect(response.headers['x-pathwarden-error']).toBe('PW_GW_HEADERS_TOO_LARGE');
    await client.closed;
  });

  test('slow and stalled clients: 408 after headersTimeoutMs even when the head trickles in', async () => {
    const stalled = await RawClient.open(gateway.port);
    const trickling = await RawClient.open(gateway.port);
    const started = Date.now();
    stalled.write(`GET ${url('/slow')} HTTP/1.1\r\n`);
    const dribble = `GET ${url('/drip')} HTTP/1.1\r\nHost: ${API}\r\nX-Long: ${'x'.repeat(100)}`;
    let at = 0;
    const timer = setInterval(() => {
      if (at < dribble.length && !trickling.ended) trickling.write(dribble[at++] as string);
    }, 20);
    try {
      for (const client of [stalled, trickling]) {
        const response = await client.response(3000);
        expect(response.status).toBe(408);
        expect(response.headers['x-pathwarden-error']).toBe('PW_GW_HEADERS_TIMEOUT');
      }
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      clearInterval(timer);
      stalled.close();
      trickling.close();
    }
  });

  test('a kept upstream connection times out idleTimeoutMs after the request it carries, not after its last response', async () => {
    const client = await RawClient.open(gateway.port);
    try {
      client.write(`GET ${url('/warm')} HTTP/1.1\r\nHost: ${API}\r\n\r\n`);
      expect((await client.response()).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 700));
      const sent = performance.now();
      client.write(`GET ${url('/hang')} HTTP/1.1\r\nHost: ${API}\r\n\r\n`);
      const answer = await client.response();
      const waited = performance.now() - sent;
      expect(answer.status).toBe(504);
      expect(waited).toBeGreaterThanOrEqual(900);
      expect(gateway.flowsFor(API).at(-1)).toMatchObject({
        error: 'PW_GW_UPSTREAM_TIMEOUT',
        connectMs: 0, // the kept connection carried it
      });
    } finally {
      client.close();
    }
  });

  test('a client stalled in the middle of its body is cut after idleTimeoutMs and recorded', async () => {
    const client = await RawClient.open(gateway.port);
    client.write(`POST ${url('/stall')} HTTP/1.1\r\nHost: ${API}\r\nContent-Length: 10\r\n\r\nabc`);
    await client.rest(3000);
    expect(client.ended).toBe(true);
    const flow = gateway.flowsFor(API).at(-1);
    expect(flow).toMatchObject({
      error: 'PW_GW_CLIENT_ABORTED',
      outcome: 'forwarded',
      bytesUp: expect.any(Number),
    });
  });

  test('CONNECT: early data sent before the 200 is read is forwarded; half-close keeps the other direction', async () => {
    const connectHead = `CONNECT ${API}:${echo.port} HTTP/1.1\r\nHost: ${API}:${echo.port}\r\n\r\n`;
    const client = await RawClient.open(gateway.port);
    try {
      client.write(`${connectHead}early-bytes|`);
      const answer = await client.response();
      expect(answer.status).toBe(200);
      client.write('more|');
      client.socket.end(); // half-close: we are done sending, the echo must still come back
      const rest = (await client.rest()).toString();
      expect(rest).toBe('early-bytes|more|');
      expect(client.ended).toBe(true);
    } finally {
      client.close();
    }
    const flow = await gateway.flowMatching((f) => f.port === echo.port && f.protocol === 'tcp');
    // Bytes each way include the CONNECT head and the 200 line.
    expect(flow).toMatchObject({
      bytesUp: connectHead.length + 17,
      bytesDown: CONNECTED.length + 17,
      outcome: 'forwarded',
      egressPath: 'expressroute',
    });
    expect(echo.remotes().at(-1)).toBe(CIRCUIT_SOURCE);
  });
});

describe('origins that fail', () => {
  let gateway: TestGateway;
  const origins: Origin[] = [];

  beforeAll(async () => {
    origins.push(
      // 0: sends half a response, then resets
      await startTcpOrigin((socket) => {
        socket.once('data', () => {
          socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\npartial');
          setTimeout(() => socket.resetAndDestroy(), 50);
        });
      }),
      // 1: closes without answering
      await startTcpOrigin((socket) => socket.once('data', () => socket.end())),
      // 2: answers with an ambiguous response
      await startTcpOrigin((socket) =>
        socket.once('data', () =>
          socket.end('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'),
        ),
      ),
      // 3: a tunnel peer that echoes once, then resets
      await startTcpOrigin((socket) =>
        socket.once('data', (chunk: Buffer) => {
          socket.write(chunk);
          setTimeout(() => socket.resetAndDestroy(), 50);
        }),
      ),
    );
    gateway = await startTestGateway({ ports: origins.map((origin) => origin.port) });
  });

  afterAll(async () => {
    await gateway.close();
    for (const origin of origins) await origin.close();
  });

  test('origin reset mid-response: the client is reset too, the flow records PW_GW_UPSTREAM_RESET', async () => {
    const result = await curl([
      '-x',
      `http://127.0.0.1:${gateway.port}`,
      `http://${API}:${origins[0]?.port}/`,
    ]);
    expect(result.code).not.toBe(0);
    const flow = await gateway.flowMatching((f) => f.port === origins[0]?.port);
    expect(flow).toMatchObject({ error: 'PW_GW_UPSTREAM_RESET', outcome: 'forwarded' });
    expect(flow.bytesDown).toBeGreaterThan(0);
  });

  test('origin closes without a response -> 502 PW_GW_UPSTREAM_RESET', async () => {
    const client = await RawClient.open(gateway.port);
    client.write(`GET http://${API}:${origins[1]?.port}/ HTTP/1.1\r\nHost: a\r\n\r\n`);
    const response = await client.response();
    expect([response.status, response.headers['x-pathwarden-error']]).toEqual([502, 'PW_GW_UPSTREAM_RESET']);
    client.close();
  });

  test('ambiguous response framing from the origin -> 502 PW_GW_BAD_UPSTREAM_RESPONSE', async () => {
    const client = await RawClient.open(gateway.port);
    client.write(`GET http://${API}:${origins[2]?.port}/ HTTP/1.1\r\nHost: a\r\n\r\n`);
    const response = await client.response();
    expect([response.status, response.headers['x-pathwarden-error']]).toEqual([
      502,
      'PW_GW_BAD_UPSTREAM_RESPONSE',
    ]);
    client.close();
  });

  test('origin reset inside a tunnel resets the client', async () => {
    const client = await RawClient.open(gateway.port);
    let error: NodeJS.ErrnoException | undefined;
    client.socket.on('error', (cause) => {
      error = cause;
    });
    const connectHead = `CONNECT ${API}:${origins[3]?.port} HTTP/1.1\r\nHost: x\r\n\r\n`;
    client.write(connectHead);
    expect((await client.response()).status).toBe(200);
    client.write('ping');
    await client.closed;
    expect(error?.code).toBe('ECONNRESET');
    const flow = await gateway.flowMatching((f) => f.port === origins[3]?.port);
    expect(flow).toMatchObject({
      error: 'PW_GW_UPSTREAM_RESET',
      outcome: 'forwarded',
      bytesUp: connectHead.length + 4,
      bytesDown: CONNECTED.length + 4,
    });
  });
});

describe('IPv6 literals', () => {
  let http: Origin;
  let echo: Origin;
  let gateway: TestGateway;

  beforeAll(async () => {
    http = await startHttpOrigin(undefined, '::1');
    echo = await startTcpOrigin(undefined, '::1');
    gateway = await startTestGateway({
      ports: [http.port, echo.port],
      egress: { expressroute: { direct: true }, internet: { direct: true } },
      allowDestinations: ['::1/128'],
    });
  });

  afterAll(async () => {
    await gateway.close();
    await http.close();
    await echo.close();
  });

  test('http://[::1]:port/ and CONNECT [::1]:port', async () => {
    const plain = await curl(['-x', `http://127.0.0.1:${gateway.port}`, `http://[::1]:${http.port}/v6`]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(JSON.parse(plain.stdout)).toMatchObject({ url: '/v6', host: `[::1]:${http.port}`, remote: '::1' });
    const client = await RawClient.open(gateway.port);
    client.write(`CONNECT [::1]:${echo.port} HTTP/1.1\r\nHost: [::1]:${echo.port}\r\n\r\n`);
    expect((await client.response()).status).toBe(200);
    client.write('v6');
    client.socket.end();
    expect((await client.rest()).toString()).toBe('v6');
    const flow = await gateway.flowMatching((f) => f.port === echo.port);
    expect(flow).toMatchObject({
      host: '::1',
      destination: '::1',
      egressPath: 'internet',
      expectedPath: 'unknown',
    });
  });
});

describe('proxy authentication and the client allow-list', () => {
  let http: Origin;
  let gateway: TestGateway;

  beforeAll(async () => {
    http = await startHttpOrigin();
    gateway = await startTestGateway({
      ports: [http.port],
      auth: { users: [{ name: 'analyst', password: 's3cret:with colon' }] },
      clients: ['127.0.0.1/32', '127.0.0.5/32'],
    });
  });

  afterAll(async () => {
    await gateway.close();
    await http.close();
  });

  test('407 with Proxy-Authenticate without or with wrong credentials; forwarded with the right ones', async () => {
    const target = `http://${API}:${http.port}/auth`;
    const proxy = `http://127.0.0.1:${gateway.port}`;
    const none = await curl(['-x', proxy, '-o', '/dev/null', '-w', '%{http_code}', '-D', '-', target]);
    expect(none.stdout).toContain('407');
    expect(none.stdout.toLowerCase()).toContain('proxy-authenticate: basic realm="pathwarden"');
    const wrong = await curl([
      '-x',
      proxy,
      '--proxy-user',
      'analyst:nope',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      target,
    ]);
    expect(wrong.stdout).toBe('407');
    const right = await curl(['-x', proxy, '--proxy-user', 'analyst:s3cret:with colon', target]);
    expect(JSON.parse(right.stdout).headers['proxy-authorization']).toBeUndefined();
    const tunnel = await curl([
      '-x',
      proxy,
      '--proxytunnel',
      '-o',
      '/dev/null',
      '-w',
      '%{http_connect}',
      `https://${API}:${http.port}/`,
    ]);
    expect(tunnel.stdout).toBe('407');
    expect(gateway.store.flows.filter((flow) => flow.error === 'PW_GW_AUTH_REQUIRED').length).toBe(3);
  });

  test('a client outside `clients` gets 403 PW_GW_CLIENT_DENIED; a listed one is served', async () => {
    const denied = await RawClient.open(gateway.port, '127.0.0.9');
    const response = await denied.response();
    expect([response.status, response.headers['x-pathwarden-error']]).toEqual([403, 'PW_GW_CLIENT_DENIED']);
    denied.close();
    const listed = await curl([
      '--interface',
      '127.0.0.5',
      '-x',
      `http://127.0.0.1:${gateway.port}`,
      '--proxy-user',
      'analyst:s3cret:with colon',
      `http://${API}:${http.port}/ok`,
    ]);
    expect(JSON.parse(listed.stdout).url).toBe('/ok');
    expect(gateway.store.flows.some((flow) => flow.client === '127.0.0.9' && flow.outcome === 'denied')).toBe(
      true,
    );
  });
});
