// The dnsmasq fragment with the real dnsmasq filling the real nftables sets, inside a network
// namespace this test creates (and deletes): every circuit-bound name (decide()) must land in the
// circuit sets and leave through the circuit, whatever dnsmasq's apex-and-subdomain matching does
// to the names around it; the names it cannot separate take the circuit, as announced.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { needPeers } from '../testing/peers.js';
import { generateDnsmasq } from './dnsmasq.js';
import { generateIproute } from './iproute.js';
import { generateNftables } from './nftables.js';
import { type NamespaceDns, resolveAndSendProgram, startNamespaceDns } from './testing/dns.js';
import { builtinPolicy, documentedEgress, exampleTopology } from './testing/fixtures.js';
import { createRouterNamespace, type RouterNamespace } from './testing/netns.js';

const policy = builtinPolicy();
const example = exampleTopology();

// Apexes, names under exact names and wildcards; one address each, outside every circuit prefix.
const names = [
  'powerbi.com',
  'app.powerbi.com',
  'a.deep.powerbi.com',
  'support.powerbi.com',
  'x.support.powerbi.com',
  'ideas.powerbi.com',
  'x.ideas.powerbi.com',
  'login.microsoftonline.com',
  'x.login.microsoftonline.com',
  'analysis.windows.net',
  'wabi-test.analysis.windows.net',
  'platform.bing.com',
];
const answers = Object.fromEntries(names.map((name, i) => [name, `198.18.1.${i + 1}`]));

describe.skipIf(!needPeers('ip', 'nft', 'dnsmasq', 'root'))(
  'dnsmasq filling the nftables sets in a network namespace',
  () => {
    let dir: string;
    let router: RouterNamespace | undefined;
    let dns: NamespaceDns | undefined;

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'pathwarden-dnsmasq-'));
    });
    afterAll(async () => {
      await dns?.stop();
      await router?.remove();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    test('no circuit-bound name goes out of the Internet interface; apexes dnsmasq cannot separate take the circuit', {
      timeout: 40_000,
    }, async () => {
      router = await createRouterNamespace('dnsmasq');
      const ns = router;
      const nft = join(dir, 'pathwarden.nft');
      const ip = join(dir, 'pathwarden-ip.sh');
      const client = join(dir, 'client.mjs');
      const conf = generateDnsmasq(policy, example);
      await writeFile(nft, generateNftables(policy, example));
      await writeFile(ip, generateIproute(policy, example, { via: '192.0.2.1', dev: 'er0' }));
      await writeFile(client, resolveAndSendProgram);
      await ns.exec('nft', '-f', nft);
      await ns.exec('sh', ip);
      dns = await startNamespaceDns(ns.name, dir, answers, conf);
      await ns.exec(process.execPath, client, String(dns.port), JSON.stringify(names));

      const viaCircuit = new Set(await ns.sentThrough('er0'));
      const viaInternet = new Set(await ns.sentThrough('inet0'));
      const leaks = names.filter(
        (name) =>
          documentedEgress(policy, name) === 'expressroute' && !viaCircuit.has(answers[name] as string),
      );
      expect(leaks).toEqual([]);
      // Internet exceptions dnsmasq can tell apart stay on the Internet...
      for (const name of ['platform.bing.com']) expect(viaInternet.has(answers[name] as string)).toBe(true);
      // ...those it cannot take the circuit, and the fragment says so.
      for (const name of [
        'powerbi.com',
        'support.powerbi.com',
        'ideas.powerbi.com',
        'analysis.windows.net',
      ]) {
        expect(viaCircuit.has(answers[name] as string), name).toBe(true);
        expect(conf).toMatch(
          new RegExp(`# differs from the catalog: .*${name.replace(/\./g, '\\.')} itself`),
        );
      }
      expect(await ns.packetsThrough('er0')).toBe(viaCircuit.size);
    });
  },
);
