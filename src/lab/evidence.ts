// What the lab knows after a scenario: the flows of each uplink's capture, as pathwarden's own
// audit classified them, and the gateway's flow records. Checks and the statement proof read these.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { AuditReport } from '../audit/audit-report.js';
import { runAudit } from '../audit/run-audit.js';
import type { FlowRecord } from '../flow/record.js';
import type { Policy } from '../policy/policy.js';
import { loadTopologyFile } from '../policy/topology.js';
import type { Uplink } from './capture.js';

export interface UplinkAudit {
  uplink: Uplink;
  file: string;
  report: AuditReport;
  flows: FlowRecord[];
}

/**
 * Audits one uplink's capture. The capture's place is the evidence of the path its flows took, so
 * the topology says so (`default` = the uplink's path, no prefixes): a circuit-bound destination
 * seen on the Internet uplink is a leak even though the circuit advertises its prefix.
 */
export async function auditUplink(
  uplink: Uplink,
  file: string,
  policy: Policy,
  topologyFile: string,
): Promise<UplinkAudit> {
  const flows: FlowRecord[] = [];
  const report = await runAudit({
    inputs: [file],
    policy,
    topology: loadTopologyFile(topologyFile),
    topologyFile,
    format: 'pcap',
    rename: (path) => basename(path),
    sinks: [
      {
        write(flow) {
          flows.push(flow);
          return undefined;
        },
        close: async () => {},
      },
    ],
  });
  return { uplink, file, report, flows };
}

/** The host a capture flow names (SNI, HTTP Host), lower-case; null for host-less flows. */
export const flowHost = (flow: FlowRecord): string | null =>
  (flow.sni ?? flow.host ?? flow.httpHost)?.toLowerCase() ?? null;

/** Reads the gateway's JSONL flow store (one record per line; cut-short lines are skipped). */
export function readGatewayFlows(file: string): FlowRecord[] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const flows: FlowRecord[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      flows.push(JSON.parse(line) as FlowRecord);
    } catch {
      // a line cut short by a crash: the store's own reader skips it too
    }
  }
  return flows;
}

/** `packet N of file` for a capture flow. */
export const packetRef = (flow: FlowRecord): string =>
  `${flow.origin.file ?? '?'}#${flow.origin.line ?? '?'}`;

export const bytesOf = (flow: FlowRecord): number => (flow.bytesUp ?? 0) + (flow.bytesDown ?? 0);
