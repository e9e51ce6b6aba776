// The dnsmasq fragment: accepted by `dnsmasq --test`, and, evaluated with dnsmasq's own matching
// (longest domain, apex included), it agrees with decide() on every name except those its
// "differs from the catalog" comments announce.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import type { EgressPath } from '../catalog/model.js';
import { needPeers } from '../testing/peers.js';
import { generateDnsmasq } from './dnsmasq.js';
import { builtinPolicy, exampleTopology, seededRandom, topology } from './testing/fixtures.js';
import { run } from './testing/processes.js';

const dnsmasqPath = '/usr/sbin/dnsmasq';
const policy = builtinPolicy();
const example = exampleTopology();

/** dnsmasq's line for a name: the longest matching domain (label-aligned, apex included). */
function dnsmasqLine(config: string, name: string): { domain: string; sets: string } | undefined {
  let best: { domain: string; sets: string } | undefined;
  for (const [, domain, sets] of config.matchAll(/^nftset=\/([^/]+)\/(.+)$/gm)) {
    const d = domain as string;
    if ((name === d || name.endsWith(`.${d}`)) && (best === undefined || d.length > best.domain.length)) {
      best = { domain: d, sets: sets as string };
    }
  }
  return best;
}

function announced(config: string): { apexes: Set<string>; under: string[] } {
  const apexes = new Set<string>();
  const under: string[] = [];
  for (const [, list] of config.matchAll(/^# differs from the catalog: (.+)$/gm)) {
    for (const item of (list as string).split('; ')) {
      const apex = /^(\S+) itself/.exec(item);
      const below = /^names under (\S+)/.exec(item);
      if (apex) apexes.add(apex[1] as string);
      if (below) under.push(below[1] as string);
    }
  }
  return { apexes, under };
}

describe('generate dnsmasq', () => {
  test('matches the snapshot for the built-in catalog and examples/topology.yaml', async () => {
    await expect(generateDnsmasq(policy, example)).toMatchFileSnapshot('./__snapshots__/dnsmasq-saas.conf');
  });

  test.each(['expressroute', 'internet'] as const)(
    'agrees with decide() on 10,000 names but for the differences it announces (--either %s)',
    (either) => {
      const config = generateDnsmasq(policy, example, { either });
      const { apexes, under } = announced(config);
      const domains = [...config.matchAll(/^nftset=\/([^/]+)\//gm)].map((m) => m[1] as string);
      const random = seededRandom(5);
      const labels = ['api', 'app', 'support', 'ideas', 'www', 'x1', 'deep', 'login'];
      const names: string[] = [...domains, 'example.org', 'windows.net'];
      while (names.length < 10_000) {
        let name = domains[Math.floor(random() * domains.length)] as string;
        const depth = Math.floor(random() * 3);
        for (let i = 0; i < depth; i++) name = `${labels[Math.floor(random() * labels.length)]}.${name}`;
        names.push(name);
      }
      const unexplained: string[] = [];
      const leaks: string[] = [];
      for (const name of names) {
        const line = dnsmasqLine(config, name);
        const got: EgressPath = line?.sets.includes('#er4') ? 'expressroute' : 'internet';
        const path = policy.decide(name).path;
        const want: EgressPath =
          path === 'either' ? either : path === 'expressroute' ? 'expressroute' : 'internet';
        if (got === want) continue;
        // Fail closed: a difference may send an Internet name to the circuit, never the reverse.
        if (want === 'expressroute') leaks.push(name);
        const explained =
          apexes.has(name) || (line !== undefined && line.domain !== name && under.includes(line.domain));
        if (!explained) unexplained.push(`${name}: dnsmasq ${got}, decide() ${want}`);
      }
      expect(unexplained).toEqual([]);
      expect(leaks).toEqual([]);
      expect(apexes.size + under.length).toBeGreaterThan(0);
    },
  );

  test('refuses a topology whose default is the circuit', () => {
    expect(() => generateDnsmasq(policy, topology({ ...example, default: 'expressroute' }))).toThrow(
      expect.objectContaining({ code: 'PW_ERR_GENERATE_INVALID' }),
    );
  });

  test.skipIf(!needPeers('dnsmasq'))('dnsmasq --test accepts it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pathwarden-dnsmasq-'));
    try {
      const file = join(dir, 'pathwarden.conf');
      await writeFile(file, generateDnsmasq(policy, example));
      const result = await run(dnsmasqPath, ['--test', '-C', file]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toContain('syntax check OK');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
