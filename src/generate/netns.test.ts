// dnsmasq + nftables + ip rule applied together inside a network namespace this test creates (and
// deletes): dnsmasq answers from a fake upstream and fills the sets, nftables marks packets to
// them, and the policy-routing script sends marked packets to the circuit table, failing closed.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { needPeers } from '../testing/peers.js';
import { generateDnsmasq } from './dnsmasq.js';
import { generateIproute } from './iproute.js';
import { generateNftables } from './nftables.js';
import { builtinPolicy, exampleTopology } from './testing/fixtures.js';
import { type Daemon, run, runOk, startDaemon, waitFor } from './testing/processes.js';

const policy = builtinPolicy();
const example = exampleTopology();

/** What the fake upstream answers; the comments say where each name should end up. */
const answers: Record<string, string> = {
  'api.powerbi.com': '198.18.0.10', // circuit-bound name, address outside every circuit prefix
  'wabi-test.analysis.windows.net': '198.18.0.11', // circuit-bound wildcard
  'support.powerbi.com': '13.73.248.20', // Internet exception whose address is inside a circuit prefix
  'example.org': '198.18.0.12', // no rule: no set, not marked
  'unlisted.example.org': '13.73.248.21', // no rule, but its address is a circuit prefix: marked
};

// A minimal DNS server: A records from argv, empty answers otherwise. Runs inside the namespace.
const fakeUpstream = `
import { createSocket } from 'node:dgram';
const answers = JSON.parse(process.argv[3]);
const socket = createSocket('udp4');
socket.on('message', (query, peer) => {
  let offset = 12;
  const labels = [];
  while (query[offset] !== 0) { labels.push(query.subarray(offset + 1, offset + 1 + query[offset]).toString()); offset += query[offset] + 1; }
  const question = query.subarray(12, offset + 5);
  const type = query.readUInt16BE(offset + 1);
  const address = answers[labels.join('.').toLowerCase()];
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2);
  header.writeUInt16BE(address === undefined ? 0x8183 : 0x8180, 2);
  header.writeUInt16BE(1, 4);
  const withAnswer = address !== undefined && type === 1;
  header.writeUInt16BE(withAnswer ? 1 : 0, 6);
  const parts = [header, question];
  if (withAnswer) {
    const record = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, ...address.split('.').map(Number)]);
    parts.push(record);
  }
  socket.send(Buffer.concat(parts), peer.port, peer.address);
});
socket.bind(Number(process.argv[2]), '127.0.0.1', () => console.log('ready'));
`;

// Resolves names through dnsmasq, then sends one UDP datagram to each answer. Runs inside the namespace.
const client = `
import { Resolver } from 'node:dns/promises';
import { createSocket } from 'node:dgram';
const resolver = new Resolver();
resolver.setServers(['127.0.0.1:' + process.argv[2]]);
const result = {};
for (const name of JSON.parse(process.argv[3])) result[name] = (await resolver.resolve4(name))[0];
const socket = createSocket('udp4');
const sent = {};
for (const [name, address] of Object.entries(result)) {
  sent[name] = await new Promise((resolve) => socket.send('x', 9, address, (error) => resolve(error ? error.code : 'sent')));
}
socket.close();
console.log(JSON.stringify({ result, sent }));
`;

const egressRecorder = `
table inet pwtest {
  set via_er0 { type ipv4_addr; flags dynamic; }
  set via_inet0 { type ipv4_addr; flags dynamic; }
  chain post {
    type filter hook postrouting priority 100; policy accept;
    oifname "er0" udp dport 9 add @via_er0 { ip daddr }
    oifname "inet0" udp dport 9 add @via_inet0 { ip daddr }
  }
}
`;

describe.skipIf(!needPeers('ip', 'nft', 'dnsmasq', 'root'))(
  'dnsmasq + nftables + iproute in a network namespace',
  () => {
    const ns = `pw-test-${randomBytes(4).toString('hex')}`;
    let dir: string;
    const daemons: Daemon[] = [];
    const inNs = (command: string, ...args: string[]) => runOk('ip', ['netns', 'exec', ns, command, ...args]);

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'pathwarden-netns-'));
      await runOk('ip', ['netns', 'add', ns]);
      await runOk('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      // The circuit side: a veth pair inside the namespace, its far end standing for the edge router.
      await runOk('ip', ['-n', ns, 'link', 'add', 'er0', 'type', 'veth', 'peer', 'name', 'er0peer']);
      await runOk('ip', ['-n', ns, 'addr', 'add', '192.0.2.2/24', 'dev', 'er0']);
      await runOk('ip', ['-n', ns, 'link', 'set', 'er0', 'up']);
      await runOk('ip', ['-n', ns, 'link', 'set', 'er0peer', 'up']);
      // The Internet edge: the main table's default route, as on a real router.
      await runOk('ip', ['-n', ns, 'link', 'add', 'inet0', 'type', 'veth', 'peer', 'name', 'inet0peer']);
      await runOk('ip', ['-n', ns, 'addr', 'add', '198.51.100.2/24', 'dev', 'inet0']);
      await runOk('ip', ['-n', ns, 'link', 'set', 'inet0', 'up']);
      await runOk('ip', ['-n', ns, 'link', 'set', 'inet0peer', 'up']);
      await runOk('ip', ['-n', ns, 'route', 'add', 'default', 'via', '198.51.100.1', 'dev', 'inet0']);
      // Test-only table: records the destination of each test datagram per outgoing interface.
      await runOk('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], egressRecorder);
    });

    afterAll(async () => {
      for (const daemon of daemons) await daemon.stop();
      await run('ip', ['netns', 'del', ns]);
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    test('fills the sets from DNS answers, marks packets and routes them to the circuit table', {
      timeout: 30_000,
    }, async () => {
      const files = {
        nft: join(dir, 'pathwarden.nft'),
        ip: join(dir, 'pathwarden-ip.sh'),
        dnsmasq: join(dir, 'pathwarden-dnsmasq.conf'),
        upstream: join(dir, 'upstream.mjs'),
        client: join(dir, 'client.mjs'),
      };
      await writeFile(files.nft, generateNftables(policy, example));
      await writeFile(files.ip, generateIproute(policy, example, { via: '192.0.2.1', dev: 'er0' }));
      await writeFile(files.dnsmasq, generateDnsmasq(policy, example));
      await writeFile(files.upstream, fakeUpstream);
      await writeFile(files.client, client);

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

      const upstream = startDaemon('ip', [
        'netns',
        'exec',
        ns,
        process.execPath,
        files.upstream,
        '5300',
        JSON.stringify(answers),
      ]);
      daemons.push(upstream);
      await waitFor(() => upstream.output().includes('ready'), 10_000, 'the fake upstream DNS server');
      const dnsmasq = startDaemon('ip', [
        'netns',
        'exec',
        ns,
        '/usr/sbin/dnsmasq',
        '--keep-in-foreground',
        '--log-facility=-',
        '--user=root',
        `--conf-file=${files.dnsmasq}`,
        '--no-resolv',
        '--no-hosts',
        '--server=127.0.0.1#5300',
        '--listen-address=127.0.0.1',
        '--bind-interfaces',
        '--port=5353',
        '--cache-size=0',
        `--pid-file=${join(dir, 'dnsmasq.pid')}`,
      ]);
      daemons.push(dnsmasq);
      await waitFor(() => dnsmasq.output().includes('started'), 10_000, `dnsmasq\n${dnsmasq.output()}`);

      const output = await inNs(process.execPath, files.client, '5353', JSON.stringify(Object.keys(answers)));
      const { result, sent } = JSON.parse(output) as {
        result: Record<string, string>;
        sent: Record<string, string>;
      };
      expect(result).toEqual(answers);

      const elements = async (table: string, set: string) => {
        const json = JSON.parse(await inNs('nft', '-j', 'list', 'set', 'inet', table, set)) as {
          nftables: { set?: { elem?: unknown[] } }[];
        };
        return (json.nftables.find((item) => item.set)?.set?.elem ?? []).map(String).sort();
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
