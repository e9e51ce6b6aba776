// `generate route-filter`: ExpressRoute Microsoft-peering guidance for the tenant's region: the
// regional BGP community to allow in the route filter, and which catalog destinations the circuit
// then carries and which stay on the Internet.
import type { Component, DataKind, EgressPath } from '../catalog/model.js';
import { PathwardenError } from '../errors.js';
import type { Policy } from '../policy/policy.js';
import type { Topology } from '../policy/topology.js';
import {
  bgpCommunitySource,
  findRegion,
  type RegionCommunity,
  regionCommunities,
  signInCommunities,
} from './bgp-communities.js';
import { type CatalogView, catalogView, type ViewEntry } from './catalog-view.js';

export interface RouteFilterOptions {
  /** Azure region of the tenant; the topology's `region` when absent. */
  region?: string;
  json?: boolean;
  components?: readonly Component[];
  either?: EgressPath;
}

const sections = [
  {
    path: 'expressroute',
    title: 'Carried by the circuit (path expressroute)',
  },
  {
    path: 'either',
    title: 'Either path (documented on both; they ride the circuit when sent to it, --either)',
  },
  {
    path: 'internet',
    title:
      'Stay on the Internet (path internet): CDN, Front Door and Traffic Manager endpoints are not reachable over ExpressRoute',
  },
] as const;

export function generateRouteFilter(
  policy: Policy,
  topology: Topology,
  options: RouteFilterOptions = {},
): string {
  const region = resolveRegion(options.region ?? topology.region);
  // Grouped by the path decide() gives (not the egress): this is what the circuit must carry.
  const view = catalogView(policy, topology, options, (path) => path);
  const credentials = view.entries.filter((entry) => entry.rules.includes('service.credentials'));
  return options.json
    ? `${JSON.stringify(asJson(policy, region, view), null, 2)}\n`
    : asText(policy, region, view, credentials);
}

export function resolveRegion(text: string | undefined): RegionCommunity {
  const known = () => regionCommunities.map((region) => region.name).join(', ');
  if (text === undefined) {
    throw new PathwardenError(
      'PW_ERR_GENERATE_INVALID',
      `route-filter needs the tenant's Azure region: --region NAME or \`region\` in the topology (known: ${known()})`,
    );
  }
  const region = findRegion(text);
  if (!region) {
    throw new PathwardenError(
      'PW_ERR_GENERATE_INVALID',
      `unknown Azure region "${text}" (known: ${known()})`,
    );
  }
  return region;
}

function asText(
  policy: Policy,
  region: RegionCommunity,
  view: CatalogView,
  credentials: ViewEntry[],
): string {
  const signIn = credentials.length > 0 ? signInCommunities[region.cloud] : undefined;
  const communities = [region.community, ...(signIn === undefined ? [] : [signIn])];
  const out = [
    `ExpressRoute Microsoft peering for Power BI in ${region.displayName} (${region.name})`,
    `Catalog ${policy.catalog.name} ${policy.catalog.version}, profile ${policy.profile}, components ${view.components.join(', ')}.`,
    '',
    `Regional BGP community: ${region.community} (${region.geography})`,
    "  Allow it in the route filter attached to the circuit's Microsoft peering: without a route filter the",
    '  peering advertises nothing. Public peering is retired for new circuits.',
    `  PowerShell: New-AzRouteFilterRuleConfig -Name powerbi-${region.name} -Access Allow -RouteFilterRuleType Community -CommunityList ${communities.map((c) => `"${c}"`).join(',')}`,
  ];
  if (credentials.length > 0) {
    const hosts = `${credentials.map((entry) => entry.destination).join(', ')}, rule service.credentials`;
    out.push(
      signIn === undefined
        ? `Sign-in (${hosts}) is Microsoft Entra ID, for which the source lists no community in this cloud: it cannot ride this circuit.`
        : `Sign-in (${hosts}) is Microsoft Entra ID, which the same source lists with its own service community ${signIn} in this cloud: the rule above allows it too, so that credentials ride the circuit.`,
    );
  }
  out.push(`Source: ${bgpCommunitySource.title}, ${bgpCommunitySource.url}`);
  for (const section of sections) {
    const entries = view.entries.filter((entry) => entry.group === section.path);
    out.push('', `${section.title}:`);
    const hosts = entries.filter((entry) => entry.type === 'host');
    const width = Math.max(0, ...hosts.map((entry) => entry.destination.length)) + 2;
    for (const entry of hosts) {
      const why = section.path === 'internet' ? ` - ${whyInternet(policy, entry)}` : '';
      out.push(
        `  ${entry.destination.padEnd(width)}${entry.rules.join(', ')}${componentNote(entry, view)}${why}`,
      );
    }
    const prefixes = entries.filter((entry) => entry.type === 'prefix');
    if (prefixes.length > 0) {
      const v6 = prefixes.filter((entry) => entry.destination.includes(':')).length;
      const rules = [...new Set(prefixes.flatMap((entry) => entry.rules))].join(', ');
      out.push(
        `  ${prefixes.length} prefixes (${prefixes.length - v6} IPv4, ${v6} IPv6) of ${rules}, all regions: the community above brings those of ${region.displayName}`,
      );
    }
    if (entries.length === 0) out.push('  (none)');
  }
  return `${out.join('\n')}\n`;
}

/** Why a destination stays on the Internet, from the kind of data its rule carries. */
const internetWhy: Record<DataKind, string> = {
  'static-content': 'CDN: static files from a content delivery network, which ExpressRoute does not reach',
  telemetry: 'telemetry or web analytics service, documented on the public Internet',
  'map-data': 'map service (Bing or third party) on the public Internet',
  search: 'Bing on the public Internet',
  feedback: 'public web site (feedback), not a service endpoint',
  'web-content': 'public web site, not a service endpoint',
  'third-party': 'third party: the destination is not a Power BI service',
  updates: 'update check on the public Internet',
  credentials: 'documented Internet exception',
  'service-data': 'documented Internet exception',
  none: 'documented Internet exception',
  other: 'documented Internet exception',
};

function whyInternet(policy: Policy, entry: ViewEntry): string {
  const kinds = new Set(
    entry.rules.flatMap((id) =>
      policy.catalog.rules.filter((rule) => rule.id === id).map((rule) => rule.data),
    ),
  );
  return [...kinds].map((kind) => internetWhy[kind]).join('; ') || internetWhy.other;
}

function componentNote(entry: ViewEntry, view: CatalogView): string {
  return entry.components.length === view.components.length ? '' : ` (${entry.components.join(', ')})`;
}

function asJson(policy: Policy, region: RegionCommunity, view: CatalogView) {
  const entryJson = (entry: ViewEntry) => ({
    destination: entry.destination,
    type: entry.type,
    components: entry.components,
    rules: entry.rules,
    ...(entry.group === 'internet' ? { why: whyInternet(policy, entry) } : {}),
  });
  return {
    catalog: { name: policy.catalog.name, version: policy.catalog.version, profile: policy.profile },
    region: {
      name: region.name,
      displayName: region.displayName,
      geography: region.geography,
      cloud: region.cloud,
    },
    community: region.community,
    serviceCommunities:
      signInCommunities[region.cloud] === undefined
        ? []
        : [
            {
              service: 'Microsoft Entra ID',
              community: signInCommunities[region.cloud],
              rules: ['service.credentials'],
            },
          ],
    source: bgpCommunitySource,
    components: view.components,
    paths: Object.fromEntries(
      sections.map((section) => [
        section.path,
        view.entries.filter((entry) => entry.group === section.path).map(entryJson),
      ]),
    ),
  };
}
