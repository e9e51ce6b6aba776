// SSRF defences on the wire: numeric host forms, IPv4-mapped / NAT64 / 6to4 IPv6, loopback names
// and names that resolve (through `resolve`) into private or metadata ranges are refused with 403
// PW_GW_DESTINATION_DENIED before any connection is made; names are resolved exactly once and the
// dial goes to the checked address; ports outside `ports` are refused; the gateway never proxies to itself.
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { curl, RawClient } from './testing/clients.js';
import { startTestGateway, type TestGateway } from './testing/gateway-fixture.js';
import { type Origin, startHttpOrigin } from './testing/origins.js';

describe('destinations in denied ranges', () => {
  let http: Origin;
  let gateway: TestGateway;
  const lookups: string[] = [];

  beforeAll(async () => {
    http = await startHttpOrigin();
    gateway = await startTestGateway(
      {
        ports: [80, 443, http.port],
        allowDestinations: [],
        resolve: {
          'metadata.lab.test': '169.254.169.254',
          'private.lab.test': '10.0.0.1',
          'mixed.lab.test': ['13.107.6.152', '192.168.1.1'],
          'cgnat.lab.test': '100.64.0.1',
          'v6meta.lab.test': 'fd00:ec2::254',
        },
      },
      {
        lookup: async (name) => {
          lookups.push(name);
          if (name === 'localhost') return [{ address: '127.0.0.1' }, { address: '::1' }];
          throw Object.assign(new Error('no such name'), { code: 'ENOTFOUND' });
        },
      },
    );
  });

  afterAll(async () => {
    await gateway.close();
    await http.close();
  });

  const forms = [
    '127.0.0.1',
    '127.1',
    '0x7f.1',
    '0x7f.0.0.1',
    '2130706433',
    '0177.0.0.1',
    '017700000001',
    '[::ffff:127.0.0.1]',
    '[::ffff:7f00:1]',
    '[::1]',
    '[::]',
    '0.0.0.0',
    '[64:ff9b::7f00:1]',
    '[2002:7f00:1::]',
    // IPv4-translated (::ffff:0:0:0/96): issue 10 saw this one dialled.
    '[::ffff:0:7f00:1]',
    '[::ffff:0:127.0.0.1]',
    '[::7f00:1]',
    'localhost',
    'metadata.lab.test',
    'private.lab.test',
    'mixed.lab.test',
    'cgnat.lab.test',
    'v6meta.lab.test',
    '169.254.169.254',
    '[fe80::1]',
  ];

  test.each(forms)('GET http://%s/ and CONNECT %s are refused before any connection', async (host) => {
    const seen = http.seen.length;
    for (const request of [
      `GET http://${host}:${http.port}/secret HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
      `CONNECT ${host}:${http.port} HTTP/1.1\r\nHost: ${host}:${http.port}\r\n\r\n`,
    ]) {
      const client = await RawClient.open(gateway.port);
      client.write(request);
      const response = await client.response();
      client.close();
      expect([response.status, response.headers['x-pathwarden-error']], request).toEqual([
        403,
        'PW_GW_DESTINATION_DENIED',
      ]);
    }
    expect(http.seen.length).toBe(seen);
    const flow = gateway.store.flows.at(-1);
    expect(flow).toMatchObject({ outcome: 'denied', error: 'PW_GW_DESTINATION_DENIED', egressPath: null });
    // Refused before routing, the record is still classified by what was asked for.
    expect(flow?.expectedPath).toBeDefined();
  });

  test('numeric forms are recorded as the address they stand for; messages name the range', async () => {
    const client = await RawClient.open(gateway.port);
    client.write(`CONNECT 0x7f.1:443 HTTP/1.1\r\nHost: x\r\n\r\n`);
    const response = await client.response();
    client.close();
    expect(response.body).toContain('127.0.0.1 (loopback)');
    expect(gateway.store.flows.at(-1)).toMatchObject({ host: '127.0.0.1', destination: '127.0.0.1' });
    const viaName = await RawClient.open(gateway.port);
    viaName.write(`CONNECT metadata.lab.test:443 HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect((await viaName.response()).body).toContain(
      'metadata.lab.test resolves to 169.254.169.254 (cloud metadata service)',
    );
    viaName.close();
  });

  test('curl with a numeric-form URL is refused the same way', async () => {
    const result = await curl([
      '-x',
      `http://127.0.0.1:${gateway.port}`,
      '-D',
      '-',
      '-o',
      '/dev/null',
      `http://2130706433:${http.port}/`,
    ]);
    expect(result.stdout).toContain('X-Pathwarden-Error: PW_GW_DESTINATION_DENIED');
  });

  test('ports outside `ports` are refused with PW_GW_PORT_DENIED', async () => {
    const client = await RawClient.open(gateway.port);
    client.write('CONNECT api.powerbi.com:25 HTTP/1.1\r\nHost: api.powerbi.com:25\r\n\r\n');
    const response = await client.response();
    client.close();
    expect([response.status, response.headers['x-pathwarden-error']]).toEqual([403, 'PW_GW_PORT_DENIED']);
  });

  test('a name is looked up once per request and a failed lookup is PW_GW_DNS_FAILED', async () => {
    lookups.length = 0;
    const client = await RawClient.open(gateway.port);
    client.write('CONNECT nowhere.example:443 HTTP/1.1\r\nHost: x\r\n\r\n');
    const response = await client.response();
    client.close();
    expect([response.status, response.headers['x-pathwarden-error']]).toEqual([502, 'PW_GW_DNS_FAILED']);
    expect(lookups).toEqual(['nowhere.example']);
  });
});

describe('dialing exactly the checked address', () => {
  let http: Origin;
  let gateway: TestGateway;
  let answers: string[][];
  let lookups = 0;

  beforeAll(async () => {
    http = await startHttpOrigin();
    // A rebinding resolver: a public-looking lab address first, a private one on any later lookup.
    answers = [['127.0.0.1'], ['10.0.0.1']];
    gateway = await startTestGateway(
      { ports: [http.port], resolve: {}, allowDestinations: ['127.0.0.0/8'] },
      {
        lookup: async () => {
          const answer = answers[Math.min(lookups, answers.length - 1)] as string[];
          lookups++;
          return answer.map((address) => ({ address }));
        },
      },
    );
  });

  afterAll(async () => {
    await gateway.close();
    await http.close();
  });

  test('one lookup per request; the connection goes to the address that was checked', async () => {
    const first = await curl([
      '-x',
      `http://127.0.0.1:${gateway.port}`,
      `http://rebind.example:${http.port}/`,
    ]);
    expect(first.code, first.stderr).toBe(0);
    expect(lookups).toBe(1);
    expect(http.seen.length).toBe(1);
    const second = await curl([
      '-x',
      `http://127.0.0.1:${gateway.port}`,
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      `http://rebind.example:${http.port}/`,
    ]);
    expect(second.stdout).toBe('403');
    expect(lookups).toBe(2);
    expect(http.seen.length).toBe(1);
  });

  test('the gateway refuses to proxy to itself, even where loopback and its port are allowed', async () => {
    const port = await freePort();
    const loop = await startTestGateway({ listen: `127.0.0.1:${port}`, ports: [port] });
    try {
      for (const host of ['127.0.0.1', '127.1', 'self.lab.test']) {
        const client = await RawClient.open(loop.port);
        client.write(`CONNECT ${host}:${port} HTTP/1.1\r\nHost: x\r\n\r\n`);
        const response = await client.response();
        client.close();
        expect([response.status, response.headers['x-pathwarden-error']], host).toEqual([
          403,
          'PW_GW_DESTINATION_DENIED',
        ]);
        expect(response.body).toContain('this gateway itself');
      }
    } finally {
      await loop.close();
    }
  });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
