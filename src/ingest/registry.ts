// All ingest formats, and content-based detection of which one an input is.
import { vpcFormat } from './aws-vpc.js';
import { azfwFormat } from './azure-firewall.js';
import { nsgFormat } from './azure-nsg.js';
import { vnetFormat } from './azure-vnet.js';
import { csvFormat } from './csv.js';
import { dnsFormat } from './dns-log.js';
import type { FormatName, IngestFormat } from './format.js';
import { harFormat } from './har.js';
import { ndjsonFormat } from './ndjson.js';
import { pcapFormat } from './pcap.js';
import { squidFormat } from './squid.js';
import { zeekFormat } from './zeek.js';

/**
 * Every format pathwarden reads, in detection order (the highest sniff score wins; on a tie the
 * earlier one). The generic CSV / NDJSON flow forms come last.
 */
export const formats: readonly IngestFormat[] = [
  harFormat,
  squidFormat,
  zeekFormat,
  dnsFormat,
  pcapFormat,
  nsgFormat,
  vnetFormat,
  azfwFormat,
  vpcFormat,
  csvFormat,
  ndjsonFormat,
];

export function getFormat(name: FormatName): IngestFormat | undefined {
  return formats.find((format) => format.name === name);
}

/**
 * The format of an input from its first bytes (decompressed); the file name breaks ties only.
 * Returns undefined when no format is confident (score below 0.5).
 */
export function detectFormat(head: Buffer, fileName?: string): IngestFormat | undefined {
  let best: IngestFormat | undefined;
  let bestScore = 0.5;
  for (const format of formats) {
    let score = format.sniff(head);
    if (score > 0 && fileName?.toLowerCase().includes(format.name)) score += 0.01;
    if (score > bestScore || (score === bestScore && best === undefined)) {
      best = format;
      bestScore = score;
    }
  }
  return best;
}
