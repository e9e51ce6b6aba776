// The generated PAC in a real browser: Debian's Chromium fetches it from loopback, every name is
// mapped to nowhere (--host-resolver-rules), and two loopback proxies stand for the ExpressRoute
// and Internet egresses. Each page load must reach the proxy of its documented path, and only it.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { EgressPath } from '../catalog/model.js';
import { needPeers, peers } from '../testing/peers.js';
import { chromiumArgs } from '../util/chromium.js';
import { generatePac } from './pac.js';
import { builtinPolicy, documentedEgress, sampleHosts, topology } from './testing/fixtures.js';
import { canonicalRequestHost, type Recorder, startRecorder } from './testing/loopback.js';

const chromiumPath = peers.chromium?.path as string;
// The seed profile: the test is about Chromium's PAC behaviour, and one page load per host of the
// whole current catalog takes minutes on a shared machine.
const policy = builtinPolicy('seed');

describe.skipIf(!needPeers('chromium'))('generate pac in Chromium', () => {
  const proxies = {} as Record<EgressPath, Recorder>;
  let pacServer: Server;
  let pacRequests = 0;
  let profile: string;

  beforeAll(async () => {
    proxies.expressroute = await startRecorder('expressroute egress');
    proxies.internet = await startRecorder('internet egress');
    const pac = generatePac(
      policy,
      topology({
        expressroute: { proxies: [`127.0.0.1:${proxies.expressroute.port}`] },
        internet: { proxies: [`127.0.0.1:${proxies.internet.port}`] },
        default: 'internet',
      }),
    );
    pacServer = createServer((_, response) => {
      pacRequests++;
      response.writeHead(200, { 'content-type': 'application/x-ns-proxy-autoconfig' });
      response.end(pac);
    });
    await new Promise<void>((resolve) => pacServer.listen(0, '127.0.0.1', resolve));
    profile = await mkdtemp(join(tmpdir(), 'pathwarden-chromium-'));
  });

  afterAll(async () => {
    await Promise.all([proxies.expressroute?.close(), proxies.internet?.close()]);
    if (pacServer) {
      pacServer.closeAllConnections();
      await new Promise<void>((resolve) => pacServer.close(() => resolve()));
    }
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  test('sends each page to the proxy of its documented path', { timeout: 240_000 }, async () => {
    const pacUrl = `http://127.0.0.1:${(pacServer.address() as AddressInfo).port}/proxy.pac`;
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath,
      headless: true,
      args: [
        ...chromiumArgs,
        `--proxy-pac-url=${pacUrl}`,
        // No name resolves: a request that skipped the proxies would fail instead of leaving the host.
        '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
      ],
    });
    // Catalog names, subdomains and apexes, and variants a user may type (case, trailing dot).
    const hosts = [...sampleHosts(policy), 'API.PowerBI.com', 'support.powerbi.com.', 'Ajax.AspNetCdn.com.'];
    const expected = new Map<string, EgressPath>();
    const tunnelled: string[] = [];
    const load = async (host: string) => {
      // A fresh page per host: an error page left by one load must not interrupt the next.
      const page = await context.newPage();
      try {
        const response = await page.goto(`http://${host}/pathwarden-check`, {
          waitUntil: 'domcontentloaded',
        });
        expect(await response?.text(), host).toContain(
          `answered by ${expected.get(canonicalRequestHost(host))} egress`,
        );
      } catch (error) {
        // HSTS-preloaded names (google-analytics.com) are upgraded to https: Chromium asks the
        // proxy for a CONNECT tunnel, which the recorder refuses. The request still reached a proxy.
        if (!String(error).includes('ERR_TUNNEL_CONNECTION_FAILED')) throw error;
        tunnelled.push(host);
      } finally {
        await page.close();
      }
    };
    for (const host of hosts) expected.set(canonicalRequestHost(host), documentedEgress(policy, host));
    try {
      // A few pages at a time: the host list grows with the catalog, one at a time took minutes.
      const queue = [...hosts];
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          for (let host = queue.shift(); host !== undefined; host = queue.shift()) await load(host);
        }),
      );
    } finally {
      await context.close();
    }
    expect(pacRequests).toBeGreaterThan(0);
    const wrong: string[] = [];
    for (const path of ['expressroute', 'internet'] as const) {
      for (const host of proxies[path].hosts) {
        // Chromium's own background requests (accounts.google.com...) go through the PAC too.
        const documented = expected.get(host) ?? documentedEgress(policy, host);
        if (documented !== path) wrong.push(`${host} reached the ${path} proxy (expected ${documented})`);
      }
    }
    expect(wrong).toEqual([]);
    const reached = new Set([...proxies.expressroute.hosts, ...proxies.internet.hosts]);
    expect([...expected.keys()].filter((host) => !reached.has(host))).toEqual([]);
    expect(expected.size).toBeGreaterThan(40);
    expect(tunnelled.length).toBeLessThan(expected.size / 4);
  });
});
