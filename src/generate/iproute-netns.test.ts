// The policy-routing script applied as an engineer would, inside network namespaces this test
// creates (and deletes), with the nftables ruleset marking packets to the circuit prefixes: it
// must fail closed when the circuit link is down or missing at apply time, and re-running it under
// traffic must never let a circuit-bound packet out of the Internet interface.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { needPeers } from '../testing/peers.js';
import { generateIproute, type IprouteOptions } from './iproute.js';
import { generateNftables } from './nftables.js';
import { builtinPolicy, exampleTopology, topology } from './testing/fixtures.js';
import { createRouterNamespace, type RouterNamespace, udpTrafficProgram } from './testing/netns.js';
import { run, startDaemon, waitFor } from './testing/processes.js';

const policy = builtinPolicy();
const example = exampleTopology();
/** Inside the example topology's circuit prefixes (13.73.248.0/24, 2001:db8:e5::/48): marked. */
const circuitBound = ['13.73.248.21', '2001:db8:e5::21'];
const circuitOptions: IprouteOptions = { via: '192.0.2.1', via6: '2001:db8:2::1', dev: 'er0' };

describe.skipIf(!needPeers('ip', 'nft', 'root'))('iproute applied in a network namespace', () => {
  let dir: string;
  let router: RouterNamespace | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pathwarden-iproute-'));
  });
  afterEach(async () => {
    await router?.remove();
    router = undefined;
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function routerWithMarks(): Promise<RouterNamespace> {
    router = await createRouterNamespace('iproute');
    const nft = join(dir, `${router.name}.nft`);
    await writeFile(nft, generateNftables(policy, example));
    await router.exec('nft', '-f', nft);
    return router;
  }

  async function script(name: string, options: IprouteOptions, source = example): Promise<string> {
    const file = join(dir, name);
    await writeFile(file, generateIproute(policy, source, options));
    return file;
  }

  /** `ip route get` of a marked packet: the route it takes, or the error it gets. */
  async function routeOfMarked(ns: RouterNamespace, address: string): Promise<string> {
    const family = address.includes(':') ? '-6' : '-4';
    const result = await run('ip', ['-n', ns.name, family, 'route', 'get', address, 'mark', '0x100']);
    return result.code === 0 ? result.stdout : result.stderr;
  }

  async function sendBurst(ns: RouterNamespace): Promise<void> {
    const program = join(dir, 'burst.mjs');
    await writeFile(program, udpTrafficProgram);
    await ns.exec(process.execPath, program, JSON.stringify(circuitBound), '20');
  }

  test.each([
    ['down', async (ns: RouterNamespace) => ns.exec('ip', 'link', 'set', 'er0', 'down')],
    ['missing', async (ns: RouterNamespace) => ns.exec('ip', 'link', 'del', 'er0')],
  ])(
    'the circuit link %s at apply time leaves circuit-bound traffic unreachable',
    {
      timeout: 30_000,
    },
    async (_state, breakCircuit) => {
      const ns = await routerWithMarks();
      await breakCircuit(ns);
      const file = await script('down.sh', circuitOptions);
      const applied = await run('ip', ['netns', 'exec', ns.name, 'sh', file]);
      // The script says the circuit route is missing, and exits non-zero so that the operator sees it.
      expect(applied.code).toBe(2);
      expect(applied.stderr).toContain('circuit route not installed');

      // The rules are in place and point at a table that answers "unreachable".
      const rules = await ns.exec('ip', '-4', 'rule', 'show');
      expect(rules).toMatch(/1000:\tfrom all fwmark 0x100\/0x100 lookup 100 proto 245/);
      for (const address of circuitBound) {
        expect(await routeOfMarked(ns, address)).toMatch(/No route to host|unreachable/);
      }
      await sendBurst(ns);
      expect(await ns.packetsThrough('inet0')).toBe(0);
      expect(await ns.sentThrough('inet0')).toEqual([]);
    },
  );

  test('re-running the script 5 times under traffic sends 0 circuit-bound packets to the Internet', {
    timeout: 60_000,
  }, async () => {
    const ns = await routerWithMarks();
    // Rules and routes that are not pathwarden's: same priority, same table. They must survive.
    await ns.exec('ip', 'rule', 'add', 'priority', '1000', 'from', '203.0.113.0/24', 'lookup', 'main');
    await ns.exec('ip', 'route', 'add', '203.0.113.0/24', 'dev', 'inet0', 'table', '100');
    // An earlier topology had another circuit source address: its rule is pathwarden's and goes.
    const earlier = topology({
      ...example,
      expressroute: { ...example.expressroute, sourceAddresses: ['10.20.0.9'] },
    });
    await ns.exec('sh', await script('earlier.sh', circuitOptions, earlier));
    expect(await ns.exec('ip', '-4', 'rule', 'show')).toContain('from 10.20.0.9 lookup 100');

    const file = await script('current.sh', circuitOptions);
    const program = join(dir, 'traffic.mjs');
    await writeFile(program, udpTrafficProgram);
    // Bounded: at most 40 000 datagrams (about 20 s), killed as soon as the re-runs are done.
    const traffic = startDaemon('ip', [
      'netns',
      'exec',
      ns.name,
      process.execPath,
      program,
      JSON.stringify(circuitBound),
      '40000',
    ]);
    try {
      await waitFor(() => traffic.output().includes('ready'), 10_000, 'the traffic generator');
      for (let i = 0; i < 5; i++) {
        const applied = await run('ip', ['netns', 'exec', ns.name, 'sh', file]);
        expect(applied.stderr).toBe('');
        expect(applied.code).toBe(0);
      }
    } finally {
      await traffic.stop();
    }
    expect(await ns.packetsThrough('er0')).toBeGreaterThan(0);
    expect(await ns.packetsThrough('inet0')).toBe(0);

    const rules4 = await ns.exec('ip', '-4', 'rule', 'show');
    expect(rules4).toContain('1000:\tfrom 203.0.113.0/24 lookup main');
    expect(rules4).toContain('1001:\tfrom 10.20.0.5 lookup 100 proto 245');
    expect(rules4).not.toContain('10.20.0.9');
    expect(rules4.match(/lookup 100/g)).toHaveLength(2);
    expect((await ns.exec('ip', '-6', 'rule', 'show')).match(/lookup 100/g)).toHaveLength(1);
    const table4 = await ns.exec('ip', '-4', 'route', 'show', 'table', '100');
    expect(table4).toContain('203.0.113.0/24 dev inet0');
    expect(table4).toContain('default via 192.0.2.1 dev er0');
    expect(table4).toContain('unreachable default metric 4294967295');
    const table6 = await ns.exec('ip', '-6', 'route', 'show', 'table', '100');
    expect(table6).toContain('default via 2001:db8:2::1 dev er0');
    expect(table6).toMatch(/unreachable default .*metric 4294967295/);
  });
});
