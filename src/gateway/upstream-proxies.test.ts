// Egress through upstream proxies: the circuit egress is Debian's Squid, the Internet egress a
// small Node proxy, each leaving from its own source address. Each request must be seen by the
// upstream of its path (and by no other), by name (upstreams resolve in their own DNS view and send
// the right Host), and be recorded with `upstream` and `proxy host:port` evidence.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { needPeers } from '../testing/peers.js';
import { curl, tlsThroughProxy } from './testing/clients.js';
import { startTestGateway, type TestGateway } from './testing/gateway-fixture.js';
import { type Origin, startHttpOrigin, startTlsOrigin } from './testing/origins.js';
import { startNodeProxy, startSquid, type UpstreamProxyPeer } from './testing/upstream-proxies.js';

const SQUID_SOURCE = '127.0.0.5';
const NODE_SOURCE = '127.0.0.6';
const LAB_NAMES = [
  'api.powerbi.com',
  'maxcdn.bootstrapcdn.com',
  'x.analysis.windows.net',
  'ajax.aspnetcdn.com',
];

describe.skipIf(!needPeers('squid', 'curl', 'openssl'))(
  'egress through upstream proxies (Squid for the circuit, Node for the Internet)',
  () => {
    let http: Origin;
    let tls: Origin;
    let squid: UpstreamProxyPeer;
    let node: UpstreamProxyPeer;
    let gateway: TestGateway;

    beforeAll(async () => {
      http = await startHttpOrigin();
      tls = await startTlsOrigin();
      const hosts = Object.fromEntries(LAB_NAMES.map((name) => [name, '127.0.0.1']));
      squid = await startSquid(SQUID_SOURCE, hosts);
      node = await startNodeProxy(NODE_SOURCE, hosts);
      gateway = await startTestGateway({
        ports: [http.port, tls.port],
        egress: {
          expressroute: { proxy: `http://127.0.0.1:${squid.port}` },
          internet: { proxy: `http://127.0.0.1:${node.port}` },
        },
        health: {
          expressroute: { kind: 'tcp', target: `127.0.0.1:${tls.port}`, intervalMs: 200 },
          internet: { kind: 'http', target: `http://127.0.0.1:${http.port}/health`, intervalMs: 200 },
        },
      });
    }, 60_000);

    afterAll(async () => {
      await gateway?.close();
      await squid?.close();
      await node?.close();
      await http?.close();
      await tls?.close();
    });

    test('each request is carried by the upstream of its path, by name', async () => {
      const proxy = `http://127.0.0.1:${gateway.port}`;
      const squidBefore = squid.requests().length;
      const nodeBefore = node.requests().length;

      const circuitPlain = await curl(['-x', proxy, `http://api.powerbi.com:${http.port}/data`]);
      expect(circuitPlain.code, circuitPlain.stderr).toBe(0);
      expect(JSON.parse(circuitPlain.stdout)).toMatchObject({
        remote: SQUID_SOURCE,
        url: '/data',
        host: `api.powerbi.com:${http.port}`,
      });

      const internetPlain = await curl(['-x', proxy, `http://maxcdn.bootstrapcdn.com:${http.port}/lib.js`]);
      expect(JSON.parse(internetPlain.stdout)).toMatchObject({ remote: NODE_SOURCE, url: '/lib.js' });

      const circuitTls = await tlsThroughProxy({
        proxyPort: gateway.port,
        connectHost: 'x.analysis.windows.net',
        port: tls.port,
      });
      expect(circuitTls.body).toBe(`hello x.analysis.windows.net from ${SQUID_SOURCE}`);

      const internetTls = await tlsThroughProxy({
        proxyPort: gateway.port,
        connectHost: 'ajax.aspnetcdn.com',
        port: tls.port,
      });
      expect(internetTls.body).toBe(`hello ajax.aspnetcdn.com from ${NODE_SOURCE}`);

      const nodeSaw = node
        .requests()
        .slice(nodeBefore)
        .filter((line) => !line.includes('/health'));
      expect(nodeSaw).toEqual([
        `GET http://maxcdn.bootstrapcdn.com:${http.port}/lib.js`,
        `CONNECT ajax.aspnetcdn.com:${tls.port}`,
      ]);
      // Squid writes its access log when a transaction ends; a tunnel ends when it closes.
      const deadline = Date.now() + 10_000;
      let squidSaw: string[] = [];
      while (Date.now() < deadline) {
        squidSaw = squid
          .requests()
          .slice(squidBefore)
          .filter((line) => !line.startsWith('CONNECT') || line.includes(`:${tls.port}`));
        if (
          squidSaw.some((line) => line.startsWith('GET')) &&
          squidSaw.filter((line) => line.startsWith('CONNECT')).length >= 1
        )
          break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(squidSaw).toContain(`GET http://api.powerbi.com:${http.port}/data`);
      expect(squidSaw).toContain(`CONNECT x.analysis.windows.net:${tls.port}`);
      expect(squidSaw.some((line) => line.includes('lib.js'))).toBe(false);

      const circuitFlow = await gateway.flowMatching((flow) => flow.host === 'x.analysis.windows.net');
      expect(circuitFlow).toMatchObject({
        egressPath: 'expressroute',
        upstream: `127.0.0.1:${squid.port}`,
        sourceAddress: null,
        actualPathEvidence: `proxy 127.0.0.1:${squid.port}`,
        verdict: 'ok',
      });
      const internetFlow = await gateway.flowMatching((flow) => flow.host === 'maxcdn.bootstrapcdn.com');
      expect(internetFlow).toMatchObject({
        egressPath: 'internet',
        upstream: `127.0.0.1:${node.port}`,
        verdict: 'exception',
      });
    });

    test('health probes go through each path: a CONNECT through Squid, a GET through the Node proxy', async () => {
      const deadline = Date.now() + 10_000;
      while (gateway.status.health().some((health) => health.state !== 'up')) {
        if (Date.now() > deadline) throw new Error(JSON.stringify(gateway.status.health()));
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(node.requests()).toContain(`GET http://127.0.0.1:${http.port}/health`);
    });
  },
);
