// Shared inputs of the generator tests: the built-in catalog, the documented example topology,
// small topologies pointing the paths at loopback egresses, and a seeded random source.
import { join } from 'node:path';
import { loadBuiltinCatalog, packageRoot, parseCatalog } from '../../catalog/load.js';
import type { Component, EgressPath } from '../../catalog/model.js';
import { selectProfile } from '../../catalog/profiles.js';
import { parseHostPattern } from '../../match/host.js';
import { Policy } from '../../policy/policy.js';
import { loadTopologyFile, type Topology, topologySchema } from '../../policy/topology.js';

export const exampleTopologyFile = join(packageRoot(), 'examples', 'topology.yaml');

/** The built-in catalog under a profile (its default, `current`, when none is named). */
export function builtinPolicy(profile?: string): Policy {
  return Policy.compile(selectProfile(loadBuiltinCatalog().catalog, profile));
}

export function exampleTopology(): Topology {
  return loadTopologyFile(exampleTopologyFile);
}

export function topology(input: unknown): Topology {
  return topologySchema.parse(input);
}

/** A policy from catalog YAML text; throws with the problems when the text is not a valid catalog. */
export function policyFromYaml(text: string): Policy {
  const parsed = parseCatalog(text, 'test-catalog.yaml');
  if (!parsed.catalog || parsed.problems.length > 0) {
    throw new Error(`invalid test catalog: ${parsed.problems.map((p) => p.message).join('; ')}`);
  }
  return Policy.compile(parsed.catalog);
}

/** mulberry32: small, seeded, good enough to pick test names reproducibly. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Names to send through a real consumer: every exact name of the component's rules, a subdomain,
 * a deeper subdomain and the apex of each wildcard, a name no rule matches and a look-alike.
 */
export function sampleHosts(target: Policy, component: Component = 'saas'): string[] {
  const hosts = new Set<string>();
  for (const rule of target.catalog.rules) {
    if (!rule.components.includes(component)) continue;
    for (const text of rule.hosts) {
      const pattern = parseHostPattern(text);
      if (typeof pattern === 'string') continue;
      if (pattern.kind === 'exact') hosts.add(pattern.name);
      else hosts.add(`wabi-test.${pattern.suffix}`).add(`a.deep.${pattern.suffix}`).add(pattern.suffix);
    }
  }
  return [...hosts, 'example.org', 'evilpowerbi.com'];
}

/** The egress a generated file must give `host`: decide()'s path, `either` and no rule mapped as documented. */
export function documentedEgress(
  target: Policy,
  host: string,
  component: Component = 'saas',
  either: EgressPath = 'expressroute',
): EgressPath {
  const { path } = target.decide(host, { component });
  if (path === 'either') return either;
  return path === 'expressroute' ? 'expressroute' : 'internet';
}
