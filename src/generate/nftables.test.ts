// The nftables ruleset: snapshot, `nft -c -f` acceptance, and the prefixes it marks.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { needPeers } from '../testing/peers.js';
import { generateNftables } from './nftables.js';
import { builtinPolicy, exampleTopology, policyFromYaml, topology } from './testing/fixtures.js';
import { run } from './testing/processes.js';

const nftPath = '/usr/sbin/nft';
const policy = builtinPolicy();
const example = exampleTopology();

describe('generate nftables', () => {
  test('matches the snapshot for the built-in catalog and examples/topology.yaml', async () => {
    await expect(generateNftables(policy, example)).toMatchFileSnapshot('./__snapshots__/nftables-saas.nft');
  });

  test('marks the topology circuit prefixes and every circuit-bound catalog prefix', () => {
    const text = generateNftables(policy, example, { fwmark: 0x4000 });
    const catalogPrefixes = policy.catalog.rules.flatMap((rule) => rule.prefixes ?? []);
    for (const prefix of [...catalogPrefixes, ...example.expressroute.prefixes])
      expect(text).toContain(prefix);
    expect(text).toContain('meta mark set meta mark or 0x4000 return');
    expect(text.indexOf('@er4 ')).toBeLessThan(text.indexOf('@er4_prefixes '));
  });

  test('keeps the name sets across reloads: no delete table; chains and prefix sets are refilled', () => {
    const text = generateNftables(policy, example);
    expect(text).not.toContain('delete table');
    expect(text).not.toMatch(/flush set inet pathwarden (er4|er6|inet4|inet6)\n/);
    expect(text).toContain('flush chain inet pathwarden classify');
    expect(text).toContain('flush set inet pathwarden er4_prefixes');
    expect(text).toMatch(/set er4 \{\n\t\ttype ipv4_addr\n\t\tsize 262144\n\t\}/);
    expect(text).toMatch(
      /set inet6 \{\n\t\ttype ipv6_addr\n\t\tflags timeout\n\t\ttimeout 1h\n\t\tsize 65536\n\t\}/,
    );
    expect(text).toContain('ip saddr != 10.20.0.5 snat ip to 10.20.0.5');
    expect(text).toContain('meta nfproto ipv6 meta mark & 0x100 == 0x100 fib saddr type local masquerade');
  });

  test('carves catalog Internet prefixes out of circuit prefixes, and refuses deeper nesting', () => {
    const carved = policyFromYaml(`
schema: pathwarden.catalog/v1
name: carve
version: "1"
rules:
  - { id: t.er, components: all, activity: a, hosts: [], prefixes: [198.51.100.0/24], path: expressroute, data: other, source: t }
  - { id: t.hole, components: all, activity: b, hosts: [], prefixes: [198.51.100.128/25], path: internet, data: other, source: t }
`);
    const text = generateNftables(carved, example);
    expect(text).toMatch(/set inet4_prefixes \{[^}]*elements = \{ 198\.51\.100\.128\/25 \}/);
    const nested = policyFromYaml(`
schema: pathwarden.catalog/v1
name: nest
version: "1"
rules:
  - { id: t.er, components: all, activity: a, hosts: [], prefixes: [198.51.100.0/24, 198.51.100.192/26], path: expressroute, data: other, source: t }
  - { id: t.hole, components: all, activity: b, hosts: [], prefixes: [198.51.100.128/25], path: internet, data: other, source: t }
`);
    expect(() => generateNftables(nested, example)).toThrow(
      expect.objectContaining({ code: 'PW_ERR_GENERATE_INVALID' }),
    );
  });

  test.skipIf(!needPeers('nft'))('nft -c -f accepts it, with and without topology prefixes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pathwarden-nft-'));
    try {
      for (const [name, input] of [
        ['example', example],
        ['empty', topology({})],
      ] as const) {
        const file = join(dir, `${name}.nft`);
        await writeFile(file, generateNftables(policy, input));
        const result = await run(nftPath, ['-c', '-f', file]);
        expect(result.code, `${name}: ${result.stderr}`).toBe(0);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
