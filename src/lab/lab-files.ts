// The files a lab run writes into its folder: the catalog overlay (stand-in hosts), a Service Tags
// file for the circuit's prefix and the overlay imported from it, the lab topology, the gateway configuration, dnsmasq and Squid configurations. They are
// the same kinds of files a user writes, read by the same loaders.
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { importServiceTags, overlayYaml } from '../catalog/import.js';
import type { Catalog, Rule } from '../catalog/model.js';
import { labAddresses as A, clientAddresses, type LabName, standInHosts } from './plan.js';

export interface LabFiles {
  catalogOverlay: string;
  /** The Service Tags file the lab publishes for its circuit, and the overlay imported from it. */
  serviceTags: string;
  serviceTagsOverlay: string;
  /** The catalog files the lab lays over the catalog in use, in order. */
  catalogFiles: string[];
  topology: string;
  /** Topologies that place every flow of one uplink's capture on that uplink's path. */
  uplinkTopology: { circuit: string; internet: string };
  gatewayConfig: string;
  /** The same gateway configuration with `profile: private-link`. */
  privateLinkGatewayConfig: string;
  flowStore: string;
}

/** The tag the lab's Service Tags file carries, as Microsoft's file names Power BI's. */
export const circuitServiceTag = 'PowerBI';
/** A Service Tags file name (`ServiceTags_Public_YYYYMMDD.json`), so the import cites a date. */
export const serviceTagsFileName = 'ServiceTags_Public_20260101.json';

/**
 * The overlay gives every host-less rule of the catalog in use its stand-in host (same id, so
 * flows to it carry the rule's id). The circuit's prefix is not here: it comes from the lab's
 * Service Tags file through `catalog import service-tags` (see writeCatalogFiles).
 */
export function catalogOverlay(base: Catalog): object {
  const rules: Rule[] = [];
  for (const rule of base.rules) {
    const host = standInHosts[rule.id];
    if (host === undefined || rule.hosts.length > 0) continue;
    rules.push({
      ...rule,
      hosts: [host],
      note: `${rule.note ? `${rule.note} ` : ''}Lab stand-in host ${host}: the source names no destination.`,
    });
  }
  return {
    schema: 'pathwarden.catalog/v1',
    name: 'lab',
    version: '1',
    title: 'pathwarden lab stand-ins',
    rules,
  };
}

/** An Azure Service Tags file (Microsoft's format) whose PowerBI tag is the lab circuit's prefix. */
export function serviceTagsFile(): object {
  return {
    changeNumber: 1,
    cloud: 'Public',
    values: [
      {
        name: circuitServiceTag,
        id: circuitServiceTag,
        properties: {
          changeNumber: 1,
          region: '',
          systemService: circuitServiceTag,
          addressPrefixes: [A.circuitPrefix],
        },
      },
    ],
  };
}

/**
 * Writes the lab's catalog files: the stand-in overlay, the Service Tags file and the overlay
 * `catalog import service-tags` makes of it (the importer a user runs, same options).
 */
export function writeCatalogFiles(
  dir: string,
  base: Catalog,
): { catalogOverlay: string; serviceTags: string; serviceTagsOverlay: string; catalogFiles: string[] } {
  const catalogOverlayFile = join(dir, 'lab-catalog.json');
  writeFileSync(catalogOverlayFile, `${JSON.stringify(catalogOverlay(base), null, 2)}\n`);
  const serviceTags = join(dir, serviceTagsFileName);
  writeFileSync(serviceTags, `${JSON.stringify(serviceTagsFile(), null, 2)}\n`);
  const serviceTagsOverlay = join(dir, 'servicetag-powerbi.yaml');
  writeFileSync(serviceTagsOverlay, overlayYaml(importServiceTags(serviceTags, { tag: circuitServiceTag })));
  return {
    catalogOverlay: catalogOverlayFile,
    serviceTags,
    serviceTagsOverlay,
    catalogFiles: [catalogOverlayFile, serviceTagsOverlay],
  };
}

export function labTopology(defaultPath: 'internet' | 'expressroute' = 'internet', withPrefixes = true) {
  return {
    expressroute: {
      prefixes: withPrefixes ? [A.circuitPrefix, A.bothPrefix, A.privateEndpointPrefix] : [],
      proxies: [`${A.branchClientSide}:${A.squidCircuitPort}`],
      sourceAddresses: [A.branchCircuitSide],
    },
    internet: {
      prefixes: [],
      proxies: [`${A.branchClientSide}:${A.squidInternetPort}`],
      sourceAddresses: [A.branchInternetSide],
    },
    default: defaultPath,
    region: 'westeurope',
  };
}

export function gatewayConfig(dir: string, catalogs: readonly string[], profile?: string): object {
  return {
    ...(profile ? { profile } : {}),
    listen: `${A.branchClientSide}:${A.gatewayPort}`,
    admin: `127.0.0.1:${A.adminPort}`,
    egress: {
      expressroute: { localAddress: A.branchCircuitSide },
      internet: { localAddress: A.branchInternetSide },
    },
    allowDestinations: [A.circuitPrefix, A.bothPrefix, A.privateEndpointPrefix, A.internetPrefix],
    ports: [80, 443],
    decisions: { either: 'expressroute', unknown: 'internet', notCovered: 'deny', sniMismatch: 'reject' },
    components: (['desktop', 'paas', 'gateway', 'mobile'] as const).map((component) => ({
      clients: [`${clientAddresses[component]}/32`],
      component,
    })),
    health: {
      expressroute: { kind: 'tcp', target: '198.19.10.11:443', intervalMs: 300, timeoutMs: 250, failures: 1 },
      internet: { kind: 'tcp', target: '203.0.113.10:443', intervalMs: 1000, timeoutMs: 500, failures: 2 },
    },
    store: { kind: 'jsonl', path: join(dir, 'gateway-flows.jsonl'), flushIntervalMs: 100 },
    limits: { connectTimeoutMs: 2000, drainTimeoutMs: 500 },
    log: { level: 'warn', file: join(dir, 'gateway.log') },
    catalog: catalogs,
  };
}

/** A service name answered through a Private Link zone: `host` CNAME `alias` A `address`. */
export interface PrivateLinkName {
  host: string;
  alias: string;
  address: string;
}

export function dnsmasqConfig(
  dir: string,
  names: readonly LabName[],
  privateLink: readonly PrivateLinkName[] = [],
): string {
  const aliased = new Set(privateLink.map((name) => name.host));
  return [
    '# pathwarden lab DNS: every lab name, nothing else',
    'no-resolv',
    'no-hosts',
    'bind-interfaces',
    `listen-address=127.0.0.1,${A.branchClientSide}`,
    `pid-file=${join(dir, 'dnsmasq.pid')}`,
    'log-facility=-',
    ...names
      .filter((name) => !aliased.has(name.host))
      .map((name) => `host-record=${name.host},${name.address}`),
    ...privateLink.flatMap((name) => [
      `host-record=${name.alias},${name.address}`,
      `cname=${name.host},${name.alias}`,
    ]),
    '',
  ].join('\n');
}

/** One Squid instance that sends everything out of one uplink's source address. */
export function squidConfig(dir: string, name: string, port: number, sourceAddress: string): string {
  return [
    `# pathwarden lab: Squid for the ${name} uplink`,
    `http_port ${A.branchClientSide}:${port}`,
    `pid_filename ${join(dir, `squid-${name}.pid`)}`,
    `access_log stdio:${join(dir, `squid-${name}-access.log`)} squid`,
    `cache_log ${join(dir, `squid-${name}-cache.log`)}`,
    `coredump_dir ${dir}`,
    'cache deny all',
    `tcp_outgoing_address ${sourceAddress}`,
    'dns_nameservers 127.0.0.1',
    'dns_v4_first on',
    'http_access allow all',
    `visible_hostname pwlab-${name}`,
    'shutdown_lifetime 0 seconds',
    'pinger_enable off',
    'connect_timeout 2 seconds',
    '',
  ].join('\n');
}

/** Writes the files that do not depend on a scenario. */
export function writeLabFiles(dir: string, base: Catalog, userCatalogs: readonly string[]): LabFiles {
  chmodSync(dir, 0o755);
  const file = (name: string, value: object | string) => {
    const path = join(dir, name);
    writeFileSync(path, typeof value === 'string' ? value : `${JSON.stringify(value, null, 2)}\n`);
    return path;
  };
  const catalog = writeCatalogFiles(dir, base);
  return {
    ...catalog,
    topology: file('lab-topology.json', labTopology()),
    uplinkTopology: {
      circuit: file('uplink-circuit-topology.json', labTopology('expressroute', false)),
      internet: file('uplink-internet-topology.json', labTopology('internet', false)),
    },
    gatewayConfig: file('gateway.json', gatewayConfig(dir, [...userCatalogs, ...catalog.catalogFiles])),
    privateLinkGatewayConfig: file(
      'gateway-private-link.json',
      gatewayConfig(dir, [...userCatalogs, ...catalog.catalogFiles], 'private-link'),
    ),
    flowStore: join(dir, 'gateway-flows.jsonl'),
  };
}

/** Writes the DNS configuration once the names are placed (which needs the catalog in use). */
export function writeDnsmasqConfig(
  dir: string,
  names: readonly LabName[],
  privateLink: readonly PrivateLinkName[] = [],
): string {
  const path = join(dir, privateLink.length > 0 ? 'dnsmasq-private-link.conf' : 'dnsmasq.conf');
  writeFileSync(path, dnsmasqConfig(dir, names, privateLink));
  return path;
}
