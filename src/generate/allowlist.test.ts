// Allow-lists: every format lists the same destinations per egress path, and the Azure Firewall
// collection allows exactly the Internet exceptions' host names.
import { describe, expect, test } from 'vitest';
import { generateAllowlist } from './allowlist.js';
import { builtinPolicy, exampleTopology, policyFromYaml } from './testing/fixtures.js';

const policy = builtinPolicy();
const example = exampleTopology();

interface JsonList {
  components: string[];
  paths: Record<string, { destination: string; type: string; rules: string[]; ports: string | number[] }[]>;
}

interface AzfwCollection {
  ruleCollectionType: string;
  name: string;
  action: { type: string };
  rules: {
    ruleType: string;
    name: string;
    sourceIpGroups: string;
    protocols: { protocolType: string; port: number }[];
    targetFqdns: string[];
  }[];
}

interface AzfwTemplate {
  parameters: Record<string, { type: string }>;
  resources: { type: string; properties: { priority: number; ruleCollections: AzfwCollection[] } }[];
}

describe('generate allowlist', () => {
  test.each([
    ['text', 'allowlist.txt'],
    ['csv', 'allowlist.csv'],
    ['json', 'allowlist.json'],
    ['azfw', 'allowlist-azfw.json'],
  ] as const)('--format %s matches the snapshot', async (format, file) => {
    await expect(generateAllowlist(policy, example, { format })).toMatchFileSnapshot(
      `./__snapshots__/${file}`,
    );
  });

  test('text, csv and json list the same destinations per path', () => {
    const list = JSON.parse(generateAllowlist(policy, example, { format: 'json' })) as JsonList;
    const fromJson = Object.entries(list.paths).flatMap(([path, entries]) =>
      entries.map((e) => `${path} ${e.destination}`),
    );
    const csvRows = generateAllowlist(policy, example, { format: 'csv' }).trim().split('\n').slice(1);
    expect(csvRows.map((row) => row.split(',').slice(0, 2).join(' '))).toEqual(fromJson);
    let section = '';
    const fromText: string[] = [];
    for (const line of generateAllowlist(policy, example).split('\n')) {
      const header = /^# (expressroute|internet): /.exec(line);
      if (header) section = header[1] as string;
      else if (line !== '' && !line.startsWith('#')) fromText.push(`${section} ${line}`);
    }
    expect(fromText).toEqual(fromJson);
    expect(list.components).toEqual(['saas', 'desktop', 'paas', 'gateway']);
    expect(fromJson).toContain('expressroute api.powerbi.com');
    expect(fromJson).toContain('expressroute 13.73.248.4/31');
    expect(fromJson).toContain('internet *.azureedge.net');
  });

  test('every destination sits on the path decide() gives it for its components', () => {
    const list = JSON.parse(
      generateAllowlist(policy, example, { format: 'json', either: 'internet' }),
    ) as JsonList;
    for (const [path, entries] of Object.entries(list.paths)) {
      for (const entry of entries.filter((e) => e.type === 'host')) {
        const name = entry.destination.replace(/^\*\./, 'probe-name.');
        const decided = policy.decide(name, { component: 'saas' }).path;
        if (
          entry.rules.some((rule) =>
            policy.catalog.rules.find((r) => r.id === rule)?.components.includes('saas'),
          )
        ) {
          expect(decided === 'either' ? 'internet' : decided, entry.destination).toBe(path);
        }
      }
    }
    expect(list.paths.internet?.map((e) => e.destination)).toContain('*.powerbi.com');
  });

  test('the Azure Firewall rule collection group allows the Internet host names, HTTPS 443 and HTTP 80, per component', () => {
    const template = JSON.parse(generateAllowlist(policy, example, { format: 'azfw' })) as AzfwTemplate;
    const group = template.resources[0];
    expect(group?.type).toBe('Microsoft.Network/firewallPolicies/ruleCollectionGroups');
    expect(group?.properties.priority).toBe(200);
    const collections = group?.properties.ruleCollections ?? [];
    expect(collections.map((collection) => collection.name)).toEqual([
      'pathwarden-saas',
      'pathwarden-desktop',
      'pathwarden-paas',
      'pathwarden-gateway',
    ]);
    const list = JSON.parse(generateAllowlist(policy, example, { format: 'json' })) as JsonList;
    const internetHosts = (list.paths.internet ?? [])
      .filter((e) => e.type === 'host')
      .map((e) => e.destination);
    for (const collection of collections) {
      expect(collection.ruleCollectionType).toBe('FirewallPolicyFilterRuleCollection');
      expect(collection.action.type).toBe('Allow');
    }
    expect(new Set(collections.flatMap((c) => c.rules.flatMap((rule) => rule.targetFqdns)))).toEqual(
      new Set(internetHosts),
    );
    for (const collection of collections) {
      const component = collection.name.replace('pathwarden-', '');
      expect(template.parameters[`${component}SourceIpGroups`]?.type).toBe('array');
      for (const rule of collection.rules) {
        expect(rule.ruleType).toBe('ApplicationRule');
        expect(rule.protocols).toEqual([
          { protocolType: 'Https', port: 443 },
          { protocolType: 'Http', port: 80 },
        ]);
        expect(policy.catalog.rules.some((r) => r.id === rule.name && r.path === 'internet')).toBe(true);
        // Only the component's own clients; never every source.
        expect(rule.sourceIpGroups).toBe(`[parameters('${component}SourceIpGroups')]`);
        expect(rule).not.toHaveProperty('sourceAddresses');
      }
    }
    // *.azureedge.net is a paas exception: only the paas clients may reach it.
    const holders = collections.filter((c) =>
      c.rules.some((rule) => rule.targetFqdns.includes('*.azureedge.net')),
    );
    expect(holders.map((c) => c.name)).toEqual(['pathwarden-paas']);
    expect(internetHosts).not.toContain('api.powerbi.com');
    const reprioritized = JSON.parse(
      generateAllowlist(policy, example, { format: 'azfw', collectionPriority: 4000 }),
    ) as AzfwTemplate;
    expect(reprioritized.resources[0]?.properties.priority).toBe(4000);
  });

  test('rules with ports keep them (csv) and restrict the Azure Firewall protocols', () => {
    const ported = policyFromYaml(`
schema: pathwarden.catalog/v1
name: ports
version: "1"
rules:
  - { id: t.any, components: all, activity: any, hosts: ["*.example.net"], path: expressroute, data: other, source: t }
  - { id: t.tls, components: all, activity: tls, hosts: ["*.example.net"], ports: [443], path: internet, data: other, source: t }
`);
    const csv = generateAllowlist(ported, example, { format: 'csv', components: ['saas'] });
    expect(csv).toContain('expressroute,*.example.net,host,saas,t.any,any');
    expect(csv).toContain('internet,*.example.net,host,saas,t.tls,443');
    const template = JSON.parse(
      generateAllowlist(ported, example, { format: 'azfw', components: ['saas'] }),
    ) as AzfwTemplate;
    const collection = template.resources[0]?.properties.ruleCollections[0] as AzfwCollection;
    expect(collection.rules[0]?.protocols).toEqual([{ protocolType: 'Https', port: 443 }]);
  });
});
