// The programmatic entry point of `pathwarden generate`: every output kind, what it is for, and
// one dispatch from (policy, topology, request) to text. The CLI only parses flags into a request.
import type { Component, EgressPath } from '../catalog/model.js';
import type { Policy } from '../policy/policy.js';
import type { Topology } from '../policy/topology.js';
import { type AllowlistFormat, generateAllowlist } from './allowlist.js';
import { generateDnsmasq } from './dnsmasq.js';
import { generateIproute } from './iproute.js';
import { generateNftables } from './nftables.js';
import { generatePac } from './pac.js';
import { generateRouteFilter } from './route-filter.js';
import { generateSquid } from './squid.js';

export const generateKinds = [
  'pac',
  'squid',
  'dnsmasq',
  'nftables',
  'iproute',
  'allowlist',
  'route-filter',
] as const;
export type GenerateKind = (typeof generateKinds)[number];

export const kindSummaries: Readonly<Record<GenerateKind, string>> = {
  pac: 'proxy auto-config file for browsers (component saas by default)',
  squid: 'squid.conf fragment: parent proxy / source address per path, fail closed, path in the access log',
  dnsmasq: 'dnsmasq nftset= lines that fill the nftables sets with resolved addresses',
  nftables: 'nftables ruleset (table inet pathwarden) that marks circuit-bound packets',
  iproute: 'ip rule / ip route commands that send marked packets to the circuit table (needs --via)',
  allowlist: 'hosts and prefixes per path: text, csv, json, or an Azure Firewall rule collection (azfw)',
  'route-filter':
    'ExpressRoute Microsoft-peering guidance: regional BGP community and what the circuit carries',
};

/** Every option of every kind; each kind reads the ones it knows. */
export interface GenerateRequest {
  /** One component; allowlist and route-filter cover every covered component when absent. */
  component?: Component;
  either?: EgressPath;
  resolveIp?: boolean;
  circuitDirect?: boolean;
  format?: AllowlistFormat;
  collectionPriority?: number;
  region?: string;
  json?: boolean;
  accessLog?: string;
  via?: string;
  via6?: string;
  dev?: string;
  table?: number;
  fwmark?: number;
  priority?: number;
}

export function isGenerateKind(value: string): value is GenerateKind {
  return (generateKinds as readonly string[]).includes(value);
}

export function generate(
  kind: GenerateKind,
  policy: Policy,
  topology: Topology,
  request: GenerateRequest = {},
): string {
  const components = request.component === undefined ? undefined : [request.component];
  switch (kind) {
    case 'pac':
      return generatePac(policy, topology, request);
    case 'squid':
      return generateSquid(policy, topology, request);
    case 'dnsmasq':
      return generateDnsmasq(policy, topology, request);
    case 'nftables':
      return generateNftables(policy, topology, request);
    case 'iproute':
      return generateIproute(policy, topology, request);
    case 'allowlist':
      return generateAllowlist(policy, topology, { ...request, components });
    case 'route-filter':
      return generateRouteFilter(policy, topology, { ...request, components });
  }
}
