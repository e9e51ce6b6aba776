// The generated PAC, run by pac-resolver (QuickJS), must answer what decide() answers: for every
// catalog host, 10,000 seeded random subdomains with mixed case and trailing dots, every covered
// component, both --either choices, port-restricted rules and --resolve-ip.
import { afterEach, describe, expect, test } from 'vitest';
import type { Component, EgressPath } from '../catalog/model.js';
import { parseHostPattern } from '../match/host.js';
import type { Policy } from '../policy/policy.js';
import { generatePac } from './pac.js';
import {
  builtinPolicy,
  documentedEgress,
  exampleTopology,
  policyFromYaml,
  seededRandom,
  topology,
} from './testing/fixtures.js';
import { loadPac, type PacRuntime } from './testing/pac-runtime.js';

const policy = builtinPolicy();
const example = exampleTopology();
const proxies: Record<EgressPath, string> = {
  expressroute: 'PROXY 10.9.0.1:3128',
  internet: 'PROXY 10.9.0.2:3128',
};

const opened: PacRuntime[] = [];
afterEach(() => {
  for (const runtime of opened.splice(0)) runtime.dispose();
});

/** Fails any test whose PAC calls a DNS-resolving function it was not supposed to. */
const noDns = {
  dnsResolve: failDns('dnsResolve'),
  isInNet: failDns('isInNet'),
  isResolvable: failDns('isResolvable'),
  myIpAddress: failDns('myIpAddress'),
};

function failDns(name: string) {
  const fn = async () => {
    throw new Error(`the PAC called ${name}`);
  };
  return fn;
}

/**
 * isInNet as the PAC specification defines it, for an address literal: pac-resolver's own version
 * is asynchronous (it resolves its argument first), which makes thousands of calls slow.
 */
function literalIsInNet(address: string, pattern: string, mask: string): boolean {
  const toNumber = (text: string) => text.split('.').reduce((value, part) => value * 256 + Number(part), 0);
  const maskValue = toNumber(mask);
  return (toNumber(address) & maskValue) >>> 0 === (toNumber(pattern) & maskValue) >>> 0;
}

async function open(text: string, sandbox: Record<string, unknown> = noDns): Promise<PacRuntime> {
  const runtime = await loadPac(text, sandbox);
  opened.push(runtime);
  return runtime;
}

/** What the PAC must answer for a decide() path: the oracle written independently of the generator. */
function expectedProxy(path: string, either: EgressPath, fallback: EgressPath): string {
  if (path === 'expressroute' || path === 'internet') return proxies[path];
  if (path === 'either') return proxies[either];
  return proxies[fallback];
}

function catalogNames(target: Policy): string[] {
  const names = new Set<string>();
  for (const rule of target.catalog.rules) {
    for (const host of rule.hosts) {
      const pattern = parseHostPattern(host);
      if (typeof pattern === 'string') continue;
      if (pattern.kind === 'exact') names.add(pattern.name);
      else names.add(pattern.suffix).add(`a.${pattern.suffix}`).add(`a.b.${pattern.suffix}`);
    }
  }
  return [...names];
}

const labels = [
  'api',
  'app',
  'support',
  'ideas',
  'www',
  'login',
  'dc',
  'c',
  'c1',
  'visuals',
  'pathwarden-probe',
];

function randomLabel(random: () => number): string {
  if (random() < 0.4) return labels[Math.floor(random() * labels.length)] as string;
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789-';
  const length = 1 + Math.floor(random() * 12);
  let label = '';
  for (let i = 0; i < length; i++) label += alphabet[Math.floor(random() * alphabet.length)];
  return label.replace(/^-+|-+$/g, '') || 'x';
}

/** Random names near the catalog: subdomains, apexes, label-unsafe look-alikes; mixed case, trailing dots. */
function randomNames(target: Policy, count: number, seed: number): string[] {
  const random = seededRandom(seed);
  const bases = [...catalogNames(target), 'windows.net', 'microsoft.com', 'example.org', 'net'];
  const names: string[] = [];
  while (names.length < count) {
    let name = bases[Math.floor(random() * bases.length)] as string;
    if (random() < 0.1) name = `evil${name}`;
    const depth = Math.floor(random() * 4);
    for (let i = 0; i < depth; i++) name = `${randomLabel(random)}.${name}`;
    names.push(variant(name, random));
  }
  return names;
}

function variant(name: string, random: () => number): string {
  let text = '';
  for (const ch of name) text += random() < 0.3 ? ch.toUpperCase() : ch;
  return random() < 0.2 ? `${text}.` : text;
}

async function compare(
  text: string,
  target: Policy,
  component: Component,
  names: readonly string[],
  either: EgressPath,
  fallback: EgressPath,
): Promise<string[]> {
  const pac = await open(text);
  const mismatches: string[] = [];
  for (const name of names) {
    const url = `http://${name}/`;
    const expected = expectedProxy(target.decide(url, { component }).path, either, fallback);
    const actual = await pac.findProxy(url, name);
    if (actual !== expected) mismatches.push(`${name}: PAC ${actual}, decide() ${expected}`);
  }
  return mismatches;
}

describe('generate pac', () => {
  test('matches the snapshot for the built-in catalog and examples/topology.yaml', async () => {
    await expect(generatePac(policy, example)).toMatchFileSnapshot('./__snapshots__/pac-saas.pac');
  });

  test('uses only [a-z0-9.*-] in patterns and no DNS-resolving calls by default', () => {
    const text = generatePac(policy, example);
    for (const [, pattern] of text.matchAll(/shExpMatch\(host, "([^"]*)"\)/g)) {
      expect(pattern).toMatch(/^[a-z0-9.*-]+$/);
    }
    expect(text).not.toMatch(/dnsResolve|isInNet|isResolvable|myIpAddress|dnsDomainIs/);
  });

  test('agrees with decide() on every catalog host and 10,000 random subdomains (saas)', async () => {
    const names = catalogNames(policy).flatMap((name) => [name, name.toUpperCase(), `${name}.`]);
    const random = randomNames(policy, 10_000, 20261126);
    expect(names.length).toBeGreaterThan(60);
    const mismatches = await compare(
      generatePac(policy, example),
      policy,
      'saas',
      [...names, ...random],
      'expressroute',
      'internet',
    );
    expect(mismatches).toEqual([]);
  });

  test.each([
    ['desktop', 'expressroute'],
    ['paas', 'expressroute'],
    ['gateway', 'expressroute'],
    ['saas', 'internet'],
    ['paas', 'internet'],
  ] as const)('agrees with decide() for component %s with --either %s', async (component, either) => {
    const names = [...catalogNames(policy), ...randomNames(policy, 2_000, component.length * 7919)];
    const text = generatePac(policy, example, { component, either });
    expect(await compare(text, policy, component, names, either, 'internet')).toEqual([]);
  });

  test('sends unmatched names to the circuit when the topology default is expressroute', async () => {
    const circuitDefault = topology({ ...example, default: 'expressroute' });
    const text = generatePac(policy, circuitDefault);
    const names = randomNames(policy, 2_000, 7);
    expect(await compare(text, policy, 'saas', names, 'expressroute', 'expressroute')).toEqual([]);
  });

  test('answers DIRECT for a path without proxies', async () => {
    const direct = topology({ internet: { proxies: ['10.9.0.2:3128'] } });
    // Only with --circuit-direct: the network routes circuit-bound traffic itself.
    const pac = await open(generatePac(policy, direct, { circuitDirect: true }));
    expect(await pac.findProxy('https://api.powerbi.com/', 'api.powerbi.com')).toBe('DIRECT');
    expect(await pac.findProxy('https://ajax.aspnetcdn.com/', 'ajax.aspnetcdn.com')).toBe(
      'PROXY 10.9.0.2:3128',
    );
  });

  test('refuses a topology without a circuit proxy: circuit-bound hosts would get DIRECT', () => {
    for (const input of [topology({ internet: { proxies: ['10.9.0.2:3128'] } }), topology({})]) {
      expect(() => generatePac(policy, input)).toThrow(
        expect.objectContaining({
          code: 'PW_ERR_GENERATE_INVALID',
          message: expect.stringMatching(/circuit proxy/),
        }),
      );
    }
  });

  test('lists every proxy of a path in order, and never DIRECT for a circuit-bound host', async () => {
    const twoEach = topology({
      ...example,
      expressroute: { ...example.expressroute, proxies: ['10.9.0.1:3128', '10.9.1.1:3128'] },
      internet: { ...example.internet, proxies: ['10.9.0.2:3128', '[2001:db8::2]:3128'] },
    });
    const pac = await open(generatePac(policy, twoEach));
    const circuit = 'PROXY 10.9.0.1:3128; PROXY 10.9.1.1:3128';
    const internet = 'PROXY 10.9.0.2:3128; PROXY [2001:db8::2]:3128';
    expect(await pac.findProxy('https://api.powerbi.com/', 'api.powerbi.com')).toBe(circuit);
    expect(await pac.findProxy('https://ajax.aspnetcdn.com/', 'ajax.aspnetcdn.com')).toBe(internet);
    for (const name of randomNames(policy, 300, 17)) {
      const url = `https://${name}/`;
      const answer = await pac.findProxy(url, name);
      expect(answer).not.toContain('DIRECT');
      if (documentedEgress(policy, url) === 'expressroute') expect(answer, name).toBe(circuit);
    }
  });

  test('--resolve-ip keeps the order of nested prefixes (internet /8, circuit /16, internet /24)', async () => {
    const nested = policyFromYaml(`
schema: pathwarden.catalog/v1
name: nested
version: "1"
rules:
  - { id: t.wide, components: all, activity: wide, hosts: [], prefixes: [20.0.0.0/8], path: internet, data: other, source: test }
  - { id: t.er, components: all, activity: er, hosts: [], prefixes: [20.1.0.0/16], path: expressroute, data: other, source: test }
  - { id: t.hole, components: all, activity: hole, hosts: [], prefixes: [20.1.2.0/24], path: internet, data: other, source: test }
  - { id: t.name, components: all, activity: name, hosts: [api.example.net], path: expressroute, data: other, source: test }
`);
    const text = generatePac(nested, example, { resolveIp: true });
    const addresses = [
      '20.0.0.1',
      '20.1.0.1',
      '20.1.1.255',
      '20.1.2.0',
      '20.1.2.200',
      '20.1.3.0',
      '20.1.255.255',
      '20.2.0.0',
      '20.255.255.255',
      '21.0.0.1',
      '19.255.255.255',
    ];
    const resolved = new Map(addresses.map((address, i) => [`host${i}.example.org`, address]));
    // pac-resolver's own isInNet (on the literal: no second lookup) and a dnsResolve from the table.
    const pac = await open(text, {
      dnsResolve: async (host: string) => resolved.get(host) ?? null,
      isResolvable: failDns('isResolvable'),
    });
    const mismatches: string[] = [];
    for (const [host, address] of [...resolved, ...addresses.map((a) => [a, a] as const)]) {
      const url = `http://${host}/`;
      let decision = nested.decide(url);
      if (decision.path === 'unknown') decision = nested.decide(address);
      const expected = expectedProxy(decision.path, 'expressroute', 'internet');
      const actual = await pac.findProxy(url, host);
      if (actual !== expected) mismatches.push(`${host} (${address}): PAC ${actual}, decide() ${expected}`);
    }
    expect(mismatches).toEqual([]);
    expect(nested.decide('20.1.2.200').path).toBe('internet');
    expect(nested.decide('20.1.3.0').path).toBe('expressroute');
  });

  test('keeps port-restricted and component-specific rules, and names outside the pattern alphabet', async () => {
    const portPolicy = policyFromYaml(`
schema: pathwarden.catalog/v1
name: ports
version: "1"
rules:
  - { id: t.wide, components: all, activity: wide, hosts: ["*.example.net"], path: internet, data: other, source: test }
  - { id: t.tls, components: all, activity: tls, hosts: ["*.example.net"], ports: [443], path: expressroute, data: other, source: test }
  - { id: t.alt, components: all, activity: alt, hosts: [svc.example.net], ports: [8443], path: expressroute, data: other, source: test }
  - { id: t.desk, components: [desktop], activity: desk, hosts: [svc.example.net], path: either, data: other, source: test }
  - { id: t.under, components: all, activity: under, hosts: ["_srv.example.org", "*.a_b.example.org"], path: expressroute, data: other, source: test }
`);
    for (const component of ['saas', 'desktop'] as const) {
      const text = generatePac(portPolicy, example, { component, either: 'internet' });
      expect(text).toContain('pathwardenPort(url)');
      const pac = await open(text);
      const random = seededRandom(component.length);
      const hosts = [
        'svc.example.net',
        'x.svc.example.net',
        'a.example.net',
        'example.net',
        '_srv.example.org',
        'x._srv.example.org',
        'q.a_b.example.org',
        'a_b.example.org',
      ];
      const urls = [
        'http://H/',
        'https://H/',
        'https://H:8443/x',
        'http://H:443/',
        'ws://H/',
        'wss://H:8443/',
      ];
      const mismatches: string[] = [];
      for (const host of hosts) {
        for (const template of urls) {
          const name = variant(host, random);
          const url = template.replace('H', name);
          const expected = expectedProxy(portPolicy.decide(url, { component }).path, 'internet', 'internet');
          const actual = await pac.findProxy(url, name);
          if (actual !== expected)
            mismatches.push(`${component} ${url}: PAC ${actual}, decide() ${expected}`);
        }
      }
      expect(mismatches).toEqual([]);
    }
  });

  test.each([
    ['a synchronous isInNet, 1,000 names and every prefix', 1_000, 1, true],
    ["pac-resolver's own isInNet, 40 names and 40 addresses", 40, 14, false],
  ] as const)(
    '--resolve-ip agrees with decide() by address, one lookup per name (%s)',
    async (_, nameCount, addressStep, syncIsInNet) => {
      const text = generatePac(policy, example, { resolveIp: true });
      expect(text.match(/dnsResolve\(/g)).toHaveLength(1);
      const random = seededRandom(99);
      // Addresses inside the catalog's circuit prefixes (near their start) and anywhere else.
      const addresses: string[] = [];
      const v4 = policy.catalog.rules.flatMap((rule) => rule.prefixes ?? []).filter((p) => !p.includes(':'));
      for (let i = 0; i < v4.length; i += addressStep) {
        const parts = (v4[i] as string).split('/')[0]?.split('.').map(Number) as number[];
        parts[3] = ((parts[3] as number) + Math.floor(random() * 4)) % 256;
        addresses.push(parts.join('.'));
      }
      for (let i = 0; i < 300 / addressStep; i++) {
        addresses.push([0, 0, 0, 0].map(() => Math.floor(random() * 256)).join('.'));
      }
      const names = randomNames(policy, nameCount, 4242);
      const resolved = new Map<string, string | null>();
      for (const name of names) {
        const canonical = name.toLowerCase().replace(/\.$/, '');
        if (!resolved.has(canonical)) {
          resolved.set(
            canonical,
            random() < 0.1 ? null : (addresses[Math.floor(random() * addresses.length)] as string),
          );
        }
      }
      let lookups = 0;
      const dnsResolve = async (host: string) => {
        lookups++;
        if (!resolved.has(host)) throw new Error(`unexpected lookup of ${host}`);
        return resolved.get(host) ?? null;
      };
      const sandbox: Record<string, unknown> = { dnsResolve, isResolvable: failDns('isResolvable') };
      if (syncIsInNet) sandbox.isInNet = literalIsInNet;
      const pac = await open(text, sandbox);
      const mismatches: string[] = [];
      for (const host of [...names, ...addresses]) {
        const url = `http://${host}/`;
        let decision = policy.decide(url);
        const address = resolved.get(host.toLowerCase().replace(/\.$/, ''));
        if (decision.path === 'unknown' && address) decision = policy.decide(address);
        const before = lookups;
        const actual = await pac.findProxy(url, host);
        if (lookups - before > 1) mismatches.push(`${host}: ${lookups - before} lookups`);
        const expected = expectedProxy(decision.path, 'expressroute', 'internet');
        if (actual !== expected)
          mismatches.push(`${host} (${address ?? 'literal'}): PAC ${actual}, decide() ${expected}`);
      }
      expect(mismatches).toEqual([]);
      expect(lookups).toBeGreaterThan(nameCount / 10);
    },
  );

  test('--resolve-ip tests IPv4 prefixes only (isInNet cannot take IPv6)', () => {
    const text = generatePac(policy, example, { resolveIp: true, component: 'paas' });
    const tests = [...text.matchAll(/isInNet\(address, "([^"]+)", "([^"]+)"\)/g)];
    const v4 = policy.catalog.rules.flatMap((rule) => rule.prefixes ?? []).filter((p) => !p.includes(':'));
    expect(tests).toHaveLength(v4.length);
    expect(text).not.toMatch(/isInNet\(address, "[0-9a-f:]+:/);
  });

  test('refuses the mobile component, which the catalog does not cover', () => {
    expect(() => generatePac(policy, example, { component: 'mobile' })).toThrow(
      expect.objectContaining({ code: 'PW_ERR_GENERATE_INVALID' }),
    );
  });
});
