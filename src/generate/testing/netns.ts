// A router in a network namespace for the policy-routing tests: `er0` towards the circuit (next
// hop 192.0.2.1 / 2001:db8:2::1), `inet0` towards the Internet (the main table's default route),
// and a test-only nftables table that counts the test's UDP datagrams per outgoing interface.
// The namespace has a random name and is deleted by `remove()`.
import { randomBytes } from 'node:crypto';
import { run, runOk } from './processes.js';

export interface RouterNamespace {
  name: string;
  /** Runs a command inside the namespace; fails with its output when it exits non-zero. */
  exec(command: string, ...args: string[]): Promise<string>;
  /** Destinations of the test datagrams (UDP port 9) that left through `device`, sorted. */
  sentThrough(device: 'er0' | 'inet0'): Promise<string[]>;
  /** IPv4 source addresses of the test datagrams that left through the circuit interface, sorted. */
  sourcesThroughCircuit(): Promise<string[]>;
  /** Test datagrams (UDP port 9) counted on `device` since the namespace was created. */
  packetsThrough(device: 'er0' | 'inet0'): Promise<number>;
  remove(): Promise<void>;
}

// Priority 300: after every mangle/srcnat chain, so it sees the packet as it leaves.
const egressRecorder = `
table inet pwtest {
  set via_er0 { type ipv4_addr; flags dynamic; }
  set via_inet0 { type ipv4_addr; flags dynamic; }
  set via_er0_6 { type ipv6_addr; flags dynamic; }
  set via_inet0_6 { type ipv6_addr; flags dynamic; }
  set from_er0 { type ipv4_addr; flags dynamic; }
  counter er0 { }
  counter inet0 { }
  chain post {
    type filter hook postrouting priority 300; policy accept;
    oifname "er0" udp dport 9 counter name er0
    oifname "inet0" udp dport 9 counter name inet0
    oifname "er0" udp dport 9 meta nfproto ipv4 add @via_er0 { ip daddr }
    oifname "inet0" udp dport 9 meta nfproto ipv4 add @via_inet0 { ip daddr }
    oifname "er0" udp dport 9 meta nfproto ipv4 add @from_er0 { ip saddr }
    oifname "er0" udp dport 9 meta nfproto ipv6 add @via_er0_6 { ip6 daddr }
    oifname "inet0" udp dport 9 meta nfproto ipv6 add @via_inet0_6 { ip6 daddr }
  }
}
`;

export async function createRouterNamespace(purpose: string): Promise<RouterNamespace> {
  const name = `pw-${purpose}-${randomBytes(4).toString('hex')}`;
  const ip = (...args: string[]) => runOk('ip', ['-n', name, ...args]);
  const exec = (command: string, ...args: string[]) => runOk('ip', ['netns', 'exec', name, command, ...args]);
  await runOk('ip', ['netns', 'add', name]);
  try {
    await ip('link', 'set', 'lo', 'up');
    for (const [device, v4, v6] of [
      ['er0', '192.0.2.2/24', '2001:db8:2::2/64'],
      ['inet0', '198.51.100.2/24', '2001:db8:100::2/64'],
    ] as const) {
      await ip('link', 'add', device, 'type', 'veth', 'peer', 'name', `${device}peer`);
      await ip('addr', 'add', v4, 'dev', device);
      await ip('-6', 'addr', 'add', v6, 'dev', device, 'nodad');
      await ip('link', 'set', device, 'up');
      await ip('link', 'set', `${device}peer`, 'up');
    }
    // The Internet edge: the main table's default routes, as on a real router.
    await ip('route', 'add', 'default', 'via', '198.51.100.1', 'dev', 'inet0');
    await ip('-6', 'route', 'add', 'default', 'via', '2001:db8:100::1', 'dev', 'inet0');
    await runOk('ip', ['netns', 'exec', name, 'nft', '-f', '-'], egressRecorder);
  } catch (error) {
    await run('ip', ['netns', 'del', name]);
    throw error;
  }

  const elements = async (set: string) => {
    const json = JSON.parse(await exec('nft', '-j', 'list', 'set', 'inet', 'pwtest', set)) as {
      nftables: { set?: { elem?: unknown[] } }[];
    };
    return (json.nftables.find((item) => item.set)?.set?.elem ?? []).map(String);
  };
  return {
    name,
    exec,
    sentThrough: async (device) =>
      [...(await elements(`via_${device}`)), ...(await elements(`via_${device}_6`))].sort(),
    sourcesThroughCircuit: async () => (await elements('from_er0')).sort(),
    packetsThrough: async (device) => {
      const text = await exec('nft', 'list', 'counter', 'inet', 'pwtest', device);
      return Number(/packets (\d+)/.exec(text)?.[1] ?? Number.NaN);
    },
    remove: async () => {
      await run('ip', ['netns', 'del', name]);
    },
  };
}

/**
 * A Node program that sends UDP datagrams to port 9 of each address (round robin) every
 * millisecond until it has sent `limit` or is killed; it prints `ready` after the first round.
 */
export const udpTrafficProgram = `
import { createSocket } from 'node:dgram';
const addresses = JSON.parse(process.argv[2]);
const limit = Number(process.argv[3]);
const sockets = { 4: createSocket('udp4'), 6: createSocket('udp6') };
for (const socket of Object.values(sockets)) socket.on('error', () => {});
let sent = 0;
const tick = () => {
  for (const address of addresses) {
    sockets[address.includes(':') ? 6 : 4].send('x', 9, address, () => {});
    sent++;
  }
  if (sent === addresses.length) console.log('ready');
  if (sent < limit) setTimeout(tick, 1);
  else process.exit(0);
};
tick();
`;
