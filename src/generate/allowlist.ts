// `generate allowlist`: the catalog's hosts and prefixes per egress path, as text, CSV or JSON,
// and an Azure Firewall rule collection group (ARM template) that allows the Internet exceptions
// per component, from that component's clients only.
import type { Component, EgressPath } from '../catalog/model.js';
import type { Policy } from '../policy/policy.js';
import type { Topology } from '../policy/topology.js';
import { type CatalogView, catalogView, type ViewEntry } from './catalog-view.js';
import { comment, headerLines } from './context.js';
import { egressOf } from './egress.js';

export const allowlistFormats = ['text', 'csv', 'json', 'azfw'] as const;
export type AllowlistFormat = (typeof allowlistFormats)[number];

export interface AllowlistOptions {
  format?: AllowlistFormat;
  /** Components whose rules count; all covered components by default (one list for every client). */
  components?: readonly Component[];
  either?: EgressPath;
  /** azfw: priority of the rule collection group (100-65000). */
  collectionPriority?: number;
}

const paths: readonly EgressPath[] = ['expressroute', 'internet'];

export function generateAllowlist(
  policy: Policy,
  topology: Topology,
  options: AllowlistOptions = {},
): string {
  const view = catalogView(policy, topology, options, (path, choice) => egressOf(path, choice));
  switch (options.format ?? 'text') {
    case 'text':
      return text(policy, topology, view);
    case 'csv':
      return csv(view);
    case 'json':
      return `${JSON.stringify(json(policy, view), null, 2)}\n`;
    case 'azfw':
      return `${JSON.stringify(azureFirewall(policy, view, options.collectionPriority ?? defaultCollectionPriority), null, 2)}\n`;
  }
}

function portsText(entry: ViewEntry): string {
  return entry.ports === 'any' ? 'any' : entry.ports.join(' ');
}

function text(policy: Policy, topology: Topology, view: CatalogView): string {
  const out = [
    comment('#', [
      ...headerLines(
        { policy, topology, choice: view.choice },
        view.components.join(', '),
        'pathwarden allow-list: destinations per egress path',
        'allowlist',
      ),
      'One destination per line; `*.x` means any name under x, never x itself. Sections: expressroute, internet.',
    ]),
  ];
  for (const path of paths) {
    const entries = view.entries.filter((entry) => entry.group === path);
    const hosts = entries.filter((entry) => entry.type === 'host').length;
    out.push('', `# ${path}: ${hosts} host patterns, ${entries.length - hosts} prefixes`);
    for (const entry of entries) {
      out.push(
        entry.ports === 'any' ? entry.destination : `${entry.destination} # ports ${portsText(entry)}`,
      );
    }
  }
  return `${out.join('\n')}\n`;
}

function csv(view: CatalogView): string {
  const rows = [['path', 'destination', 'type', 'components', 'rules', 'ports']];
  for (const path of paths) {
    for (const entry of view.entries.filter((candidate) => candidate.group === path)) {
      rows.push([
        path,
        entry.destination,
        entry.type,
        entry.components.join(' '),
        entry.rules.join(' '),
        portsText(entry),
      ]);
    }
  }
  // RFC 4180 quoting; catalog values never hold commas today, but rule ids and notes may one day.
  const cell = (value: string) => (/[",\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value);
  return `${rows.map((row) => row.map(cell).join(',')).join('\n')}\n`;
}

function json(policy: Policy, view: CatalogView) {
  const entryJson = (entry: ViewEntry) => ({
    destination: entry.destination,
    type: entry.type,
    components: entry.components,
    rules: entry.rules,
    ports: entry.ports,
  });
  return {
    catalog: { name: policy.catalog.name, version: policy.catalog.version, profile: policy.profile },
    components: view.components,
    either: view.choice.either,
    default: view.choice.unknown,
    paths: Object.fromEntries(
      paths.map((path) => [path, view.entries.filter((entry) => entry.group === path).map(entryJson)]),
    ),
  };
}

/** Default priority of the rule collection group (`--collection-priority`). */
export const defaultCollectionPriority = 200;

/**
 * An ARM template that adds one rule collection group to an existing Azure Firewall Policy: per
 * component, a FirewallPolicyFilterRuleCollection with one application rule per catalog rule (the
 * Internet exceptions' FQDNs, HTTPS 443 and HTTP 80 or the rule's own ports). Each collection's
 * sources are an ARM parameter (IP Groups of that component's clients) without a default: the
 * template allows nothing for "any source". Azure's `*.x` target, like the catalog's, matches
 * names under x.
 */
function azureFirewall(policy: Policy, view: CatalogView, groupPriority: number) {
  const activities = new Map(policy.catalog.rules.map((rule) => [rule.id, rule.activity]));
  const parameter = (component: Component) => `${component}SourceIpGroups`;
  const collections = view.components.map((component, i) => {
    const byRule = new Map<string, { fqdns: string[]; ports: Set<number> | 'any' }>();
    for (const entry of view.entries) {
      if (entry.group !== 'internet' || entry.type !== 'host' || !entry.components.includes(component))
        continue;
      for (const rule of entry.rules) {
        const item = byRule.get(rule) ?? { fqdns: [], ports: new Set<number>() };
        if (!item.fqdns.includes(entry.destination)) item.fqdns.push(entry.destination);
        if (entry.ports === 'any') item.ports = 'any';
        else if (item.ports !== 'any') for (const port of entry.ports) item.ports.add(port);
        byRule.set(rule, item);
      }
    }
    return {
      ruleCollectionType: 'FirewallPolicyFilterRuleCollection',
      name: `pathwarden-${component}`,
      priority: 100 + 10 * i,
      action: { type: 'Allow' },
      rules: [...byRule].map(([rule, item]) => ({
        ruleType: 'ApplicationRule',
        name: rule,
        description: activities.get(rule) ?? rule,
        sourceIpGroups: `[parameters('${parameter(component)}')]`,
        protocols:
          item.ports === 'any'
            ? [
                { protocolType: 'Https', port: 443 },
                { protocolType: 'Http', port: 80 },
              ]
            : [...item.ports]
                .sort((a, b) => a - b)
                .map((port) => ({ protocolType: port === 80 ? 'Http' : 'Https', port })),
        targetFqdns: item.fqdns,
      })),
    };
  });
  return {
    $schema: 'https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#',
    contentVersion: '1.0.0.0',
    metadata: {
      generator: 'pathwarden generate allowlist --format azfw',
      catalog: `${policy.catalog.name} ${policy.catalog.version}`,
      description:
        "The Power BI Internet exceptions, one rule collection per component, each allowed only from that component's clients.",
    },
    parameters: {
      firewallPolicyName: {
        type: 'string',
        metadata: {
          description: 'The existing Azure Firewall Policy that receives the rule collection group.',
        },
      },
      ...Object.fromEntries(
        view.components.map((component) => [
          parameter(component),
          {
            type: 'array',
            metadata: {
              description: `Resource IDs of the IP Groups of the ${component} clients (no default: nothing is allowed from any source).`,
            },
          },
        ]),
      ),
    },
    resources: [
      {
        type: 'Microsoft.Network/firewallPolicies/ruleCollectionGroups',
        apiVersion: '2023-09-01',
        name: "[format('{0}/pathwarden-internet-exceptions', parameters('firewallPolicyName'))]",
        properties: { priority: groupPriority, ruleCollections: collections },
      },
    ],
  };
}
