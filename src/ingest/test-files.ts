// Paths of the sample and fixture files the ingest tests read, and the format each must be
// detected as.
import { fileURLToPath } from 'node:url';
import type { FormatName } from './format.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** A real-world sample under test/fixtures/samples/. */
export function sample(name: string): string {
  return `${root}test/fixtures/samples/${name}`;
}

/** A hand-written fixture under test/fixtures/ingest/. */
export function fixture(name: string): string {
  return `${root}test/fixtures/ingest/${name}`;
}

/** A capture under test/fixtures/pcap/, or the demo data set's. */
function capture(path: string): string {
  return `${root}${path}`;
}

/** Every real sample and hand-written fixture with the format it must be detected as. */
export const expectedFormats: Record<string, FormatName | undefined> = {
  [sample('squid-access.log')]: 'squid',
  [sample('zeek-conn.log')]: 'zeek',
  [sample('zeek-dns.log')]: 'zeek',
  [sample('zeek-ssl.log')]: 'zeek',
  [sample('zeek-ssl.json')]: 'zeek',
  [sample('chrome.har')]: 'har',
  [sample('chrome-mitmproxy-cut.har')]: 'har',
  [sample('azure-nsg-flow.log')]: 'nsg',
  [sample('azure-nsg-flow.json')]: 'nsg',
  [sample('azure-vnet-flow.log')]: 'vnet',
  [sample('azure-vnet-flow.json')]: 'vnet',
  [sample('aws-vpc-flow.log')]: 'vpc',
  [sample('azure-firewall-app.log')]: 'azfw',
  [sample('bind-queries.log')]: 'dns',
  // Samples that are no flow input: nothing may claim them.
  [sample('microsoft-type2.pac')]: undefined,
  [sample('o365-endpoints.json')]: undefined,
  [sample('servicetags-fragment.json')]: undefined,
  [sample('README.md')]: undefined,
  [fixture('squid-hierarchy.log')]: 'squid',
  [fixture('squid-common.log')]: 'squid',
  [fixture('zeek-http.log')]: 'zeek',
  [fixture('zeek-conn.json')]: 'zeek',
  [fixture('zeek-dns.json')]: 'zeek',
  [fixture('har-edge-cases.har')]: 'har',
  [fixture('nsg-pretty.json')]: 'nsg',
  [fixture('vnet-lines.log')]: 'vnet',
  [fixture('azfw-mixed.json')]: 'azfw',
  [fixture('vpc-header.log')]: 'vpc',
  [fixture('vpc-v5.log')]: 'vpc',
  [fixture('dnsmasq-queries.log')]: 'dns',
  [fixture('flows.csv')]: 'csv',
  [fixture('flows.ndjson')]: 'ndjson',
  [capture('test/fixtures/pcap/lo-ethernet.pcap')]: 'pcap',
  [capture('test/fixtures/pcap/lo-ethernet.pcapng')]: 'pcap',
  [capture('test/fixtures/pcap/any-sll-nanos.pcap')]: 'pcap',
  [capture('test/fixtures/pcap/any-sll2.pcap')]: 'pcap',
  [capture('demo/logs/pcap/egress.pcap')]: 'pcap',
};
