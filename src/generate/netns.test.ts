// dnsmasq + nftables + ip rule applied together inside a network namespace this test creates (and
// deletes): dnsmasq answers from a fake upstream and fills the sets, nftables marks packets to
// them, and the policy-routing script sends marked packets to the circuit table, failing closed.
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
import { run, runOk } from './testing/processes.js';

const policy = builtinPolicy();
const example = exampleTopology();

/** What the fake upstream answers; the comments say where each name should end up. */
const answers: Record<string, string> = {
  'api.powerbi.com': '198.18.0.10', // circuit-bound name, address outside every circuit prefix
  'wabi-test.analysis.windows.net': '198.18.0.11', // circuit-bound wildcard
  // Internet exception whose address is inside a circuit prefix (one dnsmasq can tell apart from the
  // names around it: support.powerbi.com, whose subdomains are circuit-bound, takes the circuit).
  'platform.bing.com': '13.73.248.20',
  'example.org': '198.18.0.12', // no rule: no set, not marked
  'unlisted.example.org': '13.73.248.21', // no rule, but its address is a circuit prefix: marked
};

describe.skipIf(!needPeers('ip', 'nft', 'dnsmasq', 'root'))(
  'dnsmasq + nftables + iproute in a network namespace',
  () => {
    let router: RouterNamespace;
    let ns: string;
    let dir: string;
    let dns: NamespaceDns | undefined;
    const inNs = (command: string, ...args: string[]) => runOk('ip', ['netns', 'exec', ns, command, ...args]);

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'pathwarden-netns-'));
      // er0 towards the circuit, inet0 the main table's default route, and a test-only table that
      // records the destination of each test datagram per outgoing interface.
      router = await createRouterNamespace('test');
      ns = router.name;
    });

    afterAll(async () => {
      await dns?.stop();
      await router?.remove();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    test('fills the sets from DNS answers, marks packets and routes them to the circuit table', {
      timeout: 30_000,
    }, async () => {
      const files = {
        nft: join(dir, 'pathwarden.nft'),
        ip: join(dir, 'pathwarden-ip.sh'),
        client: join(dir, 'client.mjs'),
      };
      await writeFile(files.nft, generateNftables(policy, example));
      await writeFile(files.ip, generateIproute(policy, example, { via: '192.0.2.1', dev: 'er0' }));
      await writeFile(files.client, resolveAndSendProgram);

      await inNs('nft', '-f', files.nft);
      await inNs('sh', files.ip);
      // Applying twice must leave the same state (the script removes what it added).
      await inNs('sh', files.ip);
      const rules = await runOk('ip', ['-n', ns, '-4', 'rule', 'show']);
      expect(rules).toContain('1000:\tfrom all fwmark 0x100/0x100 lookup 100');
      expect(rules).toContain('1001:\tfrom 10.20.0.5 lookup 100');
      expect(rules.match(/lookup 100/g)).toHaveLength(2);
      const table = await runOk('ip', ['-n', ns, '-4', 'route', 'show', 'table', '100']);
      expect(table).toContain('default via 192.0.2.1 dev er0');
      expect(table).toContain('unreachable default metric 4294967295');
      const ruleset = await inNs('nft', 'list', 'ruleset');
      expect(ruleset).toContain('table inet pathwarden');
      expect(ruleset).toContain('type route hook output priority mangle; policy accept;');

      dns = await startNamespaceDns(ns, dir, answers, generateDnsmasq(policy, example));

      const output = await inNs(
        process.execPath,
        files.client,
        String(dns.port),
        JSON.stringify(Object.keys(answers)),
      );
      const { result, sent } = JSON.parse(output) as {
        result: Record<string, string>;
        sent: Record<string, string>;
      };
      expect(result).toEqual(answers);

      const elements = async (table: string, set: string) => {
        const json = JSON.parse(await inNs('nft', '-j', 'list', 'set', 'inet', table, set)) as {
          nftables: { set?: { elem?: unknown[] } }[];
        };
        // Elements of a set with a timeout are objects: { elem: { val, timeout, expires } }.
        const values = (json.nftables.find((item) => item.set)?.set?.elem ?? []).map((element) =>
          typeof element === 'object' && element !== null && 'elem' in element
            ? (element as { elem: { val: unknown } }).elem.val
            : element,
        );
        return values.map(String).sort();
      };
      expect(await elements('pathwarden', 'er4')).toEqual(['198.18.0.10', '198.18.0.11']);
      expect(await elements('pathwarden', 'inet4')).toEqual(['13.73.248.20']);

      // Marked packets leave through the circuit table (er0, via 192.0.2.1), the others through the
      // main table (inet0). The Internet exception stays unmarked inside a circuit prefix.
      expect(Object.values(sent)).toEqual(Object.keys(answers).map(() => 'sent'));
      expect(await elements('pwtest', 'via_er0')).toEqual(['13.73.248.21', '198.18.0.10', '198.18.0.11']);
      expect(await elements('pwtest', 'via_inet0')).toEqual(['13.73.248.20', '198.18.0.12']);
      const classify = await inNs('nft', 'list', 'chain', 'inet', 'pathwarden', 'classify');
      expect(classify).toMatch(/ip daddr @er4 counter packets [1-9]/);
      expect(classify).toMatch(/ip daddr @inet4 counter packets [1-9]/);
      expect(classify).toMatch(/ip daddr @er4_prefixes counter packets [1-9]/);

      // Fail closed: without the circuit route, marked traffic is unreachable, not sent elsewhere.
      await runOk('ip', ['-n', ns, 'route', 'del', 'default', 'via', '192.0.2.1', 'table', '100']);
      const closed = await run('ip', ['-n', ns, 'route', 'get', '198.18.0.10', 'mark', '0x100']);
      expect(closed.code).not.toBe(0);
      // The `unreachable` route answers EHOSTUNREACH.
      expect(closed.stderr).toContain('No route to host');
    });
  },
);
