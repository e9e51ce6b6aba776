// The destination table and the first-match blocks every generator is built on.
import { describe, expect, test } from 'vitest';
import { type HostPattern, parseHostPattern } from '../match/host.js';
import { destinationTable, hostPatternCovers, specificityOrder } from './destinations.js';
import { precedenceBlocks } from './precedence.js';
import { builtinPolicy, policyFromYaml } from './testing/fixtures.js';

const catalog = policyFromYaml(`
schema: pathwarden.catalog/v1
name: table
version: "1"
rules:
  - { id: t.wide, components: all, activity: a, hosts: ["*.x.example"], path: expressroute, data: other, source: t }
  - { id: t.probe, components: all, activity: b, hosts: [pathwarden-probe.x.example, "*.pathwarden-probe.x.example"], path: internet, data: other, source: t }
  - { id: t.desk, components: [desktop], activity: c, hosts: ["*.x.example"], path: internet, data: other, source: t }
  - { id: t.net, components: all, activity: d, hosts: [], prefixes: [10.0.0.0/24, 10.9.0.0/24], path: expressroute, data: other, source: t }
  - { id: t.holes, components: all, activity: e, hosts: [], prefixes: [10.0.0.0/25, 10.9.0.0/25, 10.9.0.128/25], path: internet, data: other, source: t }
`);

describe('destinationTable', () => {
  test('decides each wildcard by a probe name that nothing more specific matches', () => {
    const table = destinationTable(catalog, 'saas');
    const wide = table.hosts.find((host) => host.text === '*.x.example');
    expect(wide?.decisions.any).toEqual({ path: 'expressroute', ruleId: 't.wide' });
    expect(table.hosts.find((host) => host.text === 'pathwarden-probe.x.example')?.decisions.any.ruleId).toBe(
      't.probe',
    );
  });

  test('follows component-specific rules', () => {
    const table = destinationTable(catalog, 'desktop');
    expect(table.hosts.find((host) => host.text === '*.x.example')?.decisions.any).toEqual({
      path: 'internet',
      ruleId: 't.desk',
    });
  });

  test('decides a prefix by an address no more specific prefix holds, and drops wholly shadowed ones', () => {
    const table = destinationTable(catalog, 'saas');
    const texts = table.prefixes.map((prefix) => `${prefix.text} ${prefix.decisions.any.ruleId}`);
    expect(texts).toContain('10.0.0.0/24 t.net');
    expect(texts).toContain('10.0.0.0/25 t.holes');
    expect(texts.some((text) => text.startsWith('10.9.0.0/24'))).toBe(false);
  });

  test('orders the built-in hosts exact names first, then wildcards by suffix length', () => {
    const hosts = destinationTable(builtinPolicy(), 'saas').hosts;
    const firstWildcard = hosts.findIndex((host) => host.pattern.kind === 'wildcard');
    expect(hosts.slice(0, firstWildcard).every((host) => host.pattern.kind === 'exact')).toBe(true);
    expect(hosts.slice(firstWildcard).every((host) => host.pattern.kind === 'wildcard')).toBe(true);
  });

  test('refuses the uncovered mobile component', () => {
    expect(() => destinationTable(catalog, 'mobile')).toThrow(/does not cover the mobile component/);
  });
});

describe('precedenceBlocks', () => {
  const entries = ['a.b.c.example', '*.b.c.example', 'z.c.example', '*.c.example', '*.other.example']
    .map((text) => ({ text, pattern: parseHostPattern(text) as HostPattern }))
    .sort((a, b) => specificityOrder(a.pattern, b.pattern));
  const answers: Record<string, string> = {
    'a.b.c.example': 'er',
    '*.b.c.example': 'inet',
    'z.c.example': 'er',
    '*.c.example': 'er',
    '*.other.example': 'inet',
  };

  test('puts every entry before the broader entries that answer differently, and merges the rest', () => {
    const blocks = precedenceBlocks(
      entries,
      (a, b) => hostPatternCovers(a.pattern, b.pattern),
      (e) => answers[e.text] as string,
    );
    expect(blocks.map((block) => `${block.key}: ${block.entries.map((e) => e.text).join(' ')}`)).toEqual([
      'er: a.b.c.example z.c.example',
      'inet: *.other.example',
      'inet: *.b.c.example',
      'er: *.c.example',
    ]);
  });
});
