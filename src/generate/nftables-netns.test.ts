// The nftables ruleset reloaded as an engineer would (`nft -f` again, e.g. by a configuration
// management run) while dnsmasq holds cached answers, inside a network namespace this test creates
// (and deletes): names resolved before the reload must still be marked for the circuit, and local
// programs' circuit-bound packets must leave from the circuit's source address.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { needPeers } from '../testing/peers.js';
import { generateDnsmasq } from './dnsmasq.js';
import { generateIproute } from './iproute.js';
import { generateNftables } from './nftables.js';
import { type NamespaceDns, resolveAndSendProgram, startNamespaceDns } from './testing/dns.js';
import { builtinPolicy, exampleTopology } from './testing/fixtures.js';
import { createRouterNamespace, type RouterNamespace } from './testing/netns.js';

const policy = builtinPolicy();
const example = exampleTopology();

const answers = {
  'api.powerbi.com': '198.18.0.10', // circuit-bound name, outside every circuit prefix
  'platform.bing.com': '13.73.248.20', // Internet exception inside a circuit prefix
};

describe.skipIf(!needPeers('ip', 'nft', 'dnsmasq', 'root'))(
  'nftables reloaded under dnsmasq in a network namespace',
  () => {
    let dir: string;
    let router: RouterNamespace | undefined;
    let dns: NamespaceDns | undefined;

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'pathwarden-nft-reload-'));
    });
    afterAll(async () => {
      await dns?.stop();
      await router?.remove();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    test('names cached by dnsmasq before the reload are still marked after it', {
      timeout: 40_000,
    }, async () => {
      router = await createRouterNamespace('nftreload');
      const ns = router;
      const nft = join(dir, 'pathwarden.nft');
      const ip = join(dir, 'pathwarden-ip.sh');
      const client = join(dir, 'client.mjs');
      await writeFile(nft, generateNftables(policy, example));
      await writeFile(ip, generateIproute(policy, example, { via: '192.0.2.1', dev: 'er0' }));
      await writeFile(client, resolveAndSendProgram);
      await ns.exec('nft', '-f', nft);
      await ns.exec('sh', ip);
      // dnsmasq with its cache: the second round of questions never reaches the upstream.
      dns = await startNamespaceDns(ns.name, dir, answers, generateDnsmasq(policy, example), 150);
      const names = JSON.stringify(Object.keys(answers));

      await ns.exec(process.execPath, client, String(dns.port), names);
      expect(await ns.sentThrough('er0')).toEqual(['198.18.0.10']);
      expect(dns.upstreamQueries('api.powerbi.com')).toBe(1);

      // The reload, twice: the name sets keep what dnsmasq added.
      await ns.exec('nft', '-f', nft);
      await ns.exec('nft', '-f', nft);
      expect(await ns.exec('nft', 'list', 'set', 'inet', 'pathwarden', 'er4')).toContain('198.18.0.10');
      expect(await ns.exec('nft', 'list', 'set', 'inet', 'pathwarden', 'inet4')).toContain('13.73.248.20');

      const before = await ns.packetsThrough('inet0');
      await ns.exec(process.execPath, client, String(dns.port), names);
      expect(dns.upstreamQueries('api.powerbi.com')).toBe(1); // answered from dnsmasq's cache
      expect(await ns.packetsThrough('er0')).toBe(2);
      // Only the Internet exception went out of the Internet interface, once per round.
      expect(await ns.packetsThrough('inet0')).toBe(before + 1);
      expect(await ns.sentThrough('inet0')).toEqual(['13.73.248.20']);
      // This host's own circuit-bound datagrams left from the circuit's source address.
      expect(await ns.sourcesThroughCircuit()).toEqual(['10.20.0.5']);
      // The ruleset is the generated one, once: no duplicated rule after three loads.
      const classify = await ns.exec('nft', 'list', 'chain', 'inet', 'pathwarden', 'classify');
      expect(classify.match(/@er4 /g)).toHaveLength(1);
    });
  },
);
