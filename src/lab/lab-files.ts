// The files a lab run writes into its folder: the catalog overlay (stand-in hosts, the circuit's
// prefix), the lab topology, the gateway configuration, dnsmasq and Squid configurations. They are
// the same kinds of files a user writes, read by the same loaders.
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Catalog, Rule } from '../catalog/model.js';
import { labAddresses as A, clientAddresses, type LabName, standInHosts } from './plan.js';

export interface LabFiles {
  catalogOverlay: string;
  topology: string;
  /** Topologies that place every flow of one uplink's capture on that uplink's path. */
  uplinkTopology: { circuit: string; internet: string };
  gatewayConfig: string;
  flowStore: string;
}

export const circuitPrefixRule = 'lab.circuit-prefix';

/**
 * The overlay gives every host-less rule of the catalog in use its stand-in host (same id, so
 * flows to it carry the rule's id), and adds the circuit's lab prefix as a circuit-bound rule, as
 * `catalog import service-tags` would for the PowerBI tag.
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
  rules.push({
    id: circuitPrefixRule,
    components: ['saas', 'desktop', 'paas', 'gateway', 'mobile'],
    activity: 'Power BI backend addresses of the lab circuit (stand-in for the PowerBI service tag)',
    hosts: [],
    prefixes: [A.circuitPrefix],
    path: 'expressroute',
    data: 'service-data',
    source: 'pathwarden lab: the prefix the lab circuit advertises',
  });
  return {
    schema: 'pathwarden.catalog/v1',
    name: 'lab',
    version: '1',
    title: 'pathwarden lab stand-ins',
    rules,
  };
}

export function labTopology(defaultPath: 'internet' | 'expressroute' = 'internet', withPrefixes = true) {
  return {
    expressroute: {
      prefixes: withPrefixes ? [A.circuitPrefix, A.bothPrefix] : [],
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

export function gatewayConfig(dir: string, catalogs: readonly string[]): object {
  return {
    listen: `${A.branchClientSide}:${A.gatewayPort}`,
    admin: `127.0.0.1:${A.adminPort}`,
    egress: {
      expressroute: { localAddress: A.branchCircuitSide },
      internet: { localAddress: A.branchInternetSide },
    },
    allowDestinations: [A.circuitPrefix, A.bothPrefix, A.internetPrefix],
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

export function dnsmasqConfig(dir: string, names: readonly LabName[]): string {
  return [
    '# pathwarden lab DNS: every lab name, nothing else',
    'no-resolv',
    'no-hosts',
    'bind-interfaces',
    `listen-address=127.0.0.1,${A.branchClientSide}`,
    `pid-file=${join(dir, 'dnsmasq.pid')}`,
    'log-facility=-',
    ...names.map((name) => `host-record=${name.host},${name.address}`),
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
  const catalogOverlayFile = file('lab-catalog.json', catalogOverlay(base));
  return {
    catalogOverlay: catalogOverlayFile,
    topology: file('lab-topology.json', labTopology()),
    uplinkTopology: {
      circuit: file('uplink-circuit-topology.json', labTopology('expressroute', false)),
      internet: file('uplink-internet-topology.json', labTopology('internet', false)),
    },
    gatewayConfig: file('gateway.json', gatewayConfig(dir, [...userCatalogs, catalogOverlayFile])),
    flowStore: join(dir, 'gateway-flows.jsonl'),
  };
}

/** Writes the DNS configuration once the names are placed (which needs the catalog in use). */
export function writeDnsmasqConfig(dir: string, names: readonly LabName[]): string {
  const path = join(dir, 'dnsmasq.conf');
  writeFileSync(path, dnsmasqConfig(dir, names));
  return path;
}
