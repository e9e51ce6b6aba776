// Azure Firewall rule logs: the legacy diagnostics categories AzureFirewallApplicationRule /
// AzureFirewallNetworkRule (free text in properties.msg) and the structured resource-specific
// AZFWApplicationRule / AZFWNetworkRule. Other firewall categories (DNS proxy, threat intel,
// IDPS, NAT) carry no outbound flow and are skipped.
import type { FlowRecord } from '../flow/record.js';
import { emptyFlow } from '../flow/record.js';
import { type AzureRecord, azureRecordBatches, propertiesOf } from './azure-records.js';
import { defineFormat, headText } from './batches.js';
import {
  lowerAscii,
  normalizeAddress,
  parseAbsoluteUrl,
  parseIsoTime,
  splitHostPort,
  toPort,
} from './fields.js';
import type { IngestContext } from './format.js';
import type { JsonItem } from './json-scan.js';
import { badField, quote } from './problems.js';

const CATEGORY =
  /"(?:category|Type)"\s*:\s*"(?:AzureFirewallApplicationRule|AzureFirewallNetworkRule|AZFWApplicationRule|AZFWNetworkRule)"/;

export const azfwFormat = defineFormat({
  name: 'azfw',
  description: 'Azure Firewall application and network rule logs (legacy msg text and structured AZFW*)',
  sniff(head) {
    const text = headText(head);
    if (!text.startsWith('{')) return 0;
    if (CATEGORY.test(text)) return 0.95;
    if (/"(?:category|Type)"\s*:\s*"(?:AzureFirewall|AZFW)/.test(text)) return 0.7;
    return 0;
  },
  parseBatches(input, ctx) {
    return azureRecordBatches(input, ctx, (record, item, out) => firewallRecord(record, item, ctx, out));
  },
});

function firewallRecord(record: AzureRecord, item: JsonItem, ctx: IngestContext, out: FlowRecord[]): void {
  const category = typeof record.category === 'string' ? record.category : record.Type;
  if (typeof category !== 'string') {
    ctx.problem(item.line, `record ${item.index} has no category`, 'category');
    return;
  }
  const properties = propertiesOf(record);
  const timeValue = record.time ?? record.TimeGenerated ?? properties.TimeGenerated;
  const time = typeof timeValue === 'string' ? parseIsoTime(timeValue) : Number.NaN;
  if (Number.isNaN(time)) {
    badField(ctx, item.line, 'time', timeValue, 'an ISO 8601 time');
    return;
  }
  let flow: FlowRecord | null | string;
  switch (category) {
    case 'AzureFirewallApplicationRule':
    case 'AzureFirewallNetworkRule':
      flow = legacyFlow(properties.msg, item.line, ctx);
      break;
    case 'AZFWApplicationRule':
      flow = structuredFlow(properties, item.line, ctx, true);
      break;
    case 'AZFWNetworkRule':
      flow = structuredFlow(properties, item.line, ctx, false);
      break;
    default:
      return; // DNS proxy, threat intel, IDPS, NAT, ...: not outbound flows
  }
  if (typeof flow === 'string') {
    ctx.problem(item.line, `record ${item.index} (${category}): ${flow}`);
    return;
  }
  if (flow === null) return;
  flow.start = time;
  out.push(flow);
}

const DENIED = /^(?:deny|denied|drop|block)/i;

/**
 * Whether a denied request is still a flow record: only when it names a host. It is kept with no
 * destination (it went nowhere, so its actual path is unknown) to show what was asked for.
 */
function keepDenied(flow: FlowRecord): FlowRecord | null {
  if (flow.host === null) return null;
  flow.destination = null;
  return flow;
}

/**
 * `HTTPS request from 10.0.2.4:56029 to host:443. Action: Allow. ...`,
 * `HTTP  request from 10.0.0.1:50776 to host:80. Url: host/path. Action: Allow. ...`,
 * `TCP request from 10.0.0.4:55016 to 13.107.21.200:443. Action: Deny. ...`,
 * `ICMP Type=8 request from 10.0.2.4 to 8.8.8.8. Action: Allow.`,
 * `ICMP request from 192.168.0.2: to 175.16.199.1:. Action: alert. Signature: ...` (IDPS, whose
 * port-less messages keep the colon with an empty port).
 */
export function legacyFlow(msg: unknown, line: number, ctx: IngestContext): FlowRecord | null | string {
  if (typeof msg !== 'string' || msg === '') return 'properties.msg is missing';
  if (msg.includes(" was DNAT'ed to ")) return null; // inbound NAT, not an outbound flow
  const from = msg.indexOf(' request from ');
  if (from < 0) return `properties.msg ${quote(msg)} is not a "<PROTO> request from ..." message`;
  const protocol = lowerAscii(msg.slice(0, msg.indexOf(' ')));
  const rest = msg.slice(from + 14);
  const sentenceEnd = rest.search(/\.(?: |$)/);
  const head = sentenceEnd < 0 ? rest : rest.slice(0, sentenceEnd);
  const to = head.indexOf(' to ');
  const sourceText = to < 0 ? head : head.slice(0, to);
  const targetText = to < 0 ? '' : head.slice(to + 4);
  const action = /Action: (\w+)/.exec(msg)?.[1];
  if (action === undefined) return `properties.msg ${quote(msg)} has no "Action:"`;
  const source = splitMessageAddress(sourceText);
  const client = source ? normalizeAddress(source.host) : undefined;
  if (client === undefined) return `properties.msg source ${quote(sourceText)} is not an address`;
  const flow = emptyFlow({ kind: 'azfw', file: ctx.file, line });
  flow.client = client;
  flow.protocol = protocol;
  if (targetText !== '') {
    const target = splitMessageAddress(targetText);
    if (!target || target.host === '') return `properties.msg target ${quote(targetText)} is not host:port`;
    const address = normalizeAddress(target.host);
    if (address !== undefined) flow.destination = address;
    else flow.host = lowerAscii(target.host);
    flow.port = target.port ?? defaultPort(protocol);
  }
  return DENIED.test(action) ? keepDenied(flow) : flow;
}

/** `host:port`, or `host:` (an empty port: ICMP and other port-less protocols in IDPS messages). */
function splitMessageAddress(text: string): ReturnType<typeof splitHostPort> {
  if (text.endsWith(':') && !text.endsWith('::')) {
    const host = text.slice(0, -1);
    const bare = splitHostPort(host);
    return bare && bare.port === null ? bare : undefined;
  }
  return splitHostPort(text);
}

function defaultPort(protocol: string): number | null {
  return protocol === 'https' ? 443 : protocol === 'http' ? 80 : null;
}

/** AZFWApplicationRule (Fqdn, TargetUrl, ...) or AZFWNetworkRule (DestinationIp, ...). */
function structuredFlow(
  p: Record<string, unknown>,
  line: number,
  ctx: IngestContext,
  application: boolean,
): FlowRecord | null | string {
  const client = typeof p.SourceIp === 'string' ? normalizeAddress(p.SourceIp) : undefined;
  if (client === undefined) return `SourceIp ${quote(p.SourceIp)} is not an IP address`;
  const flow = emptyFlow({ kind: 'azfw', file: ctx.file, line });
  flow.client = client;
  if (typeof p.Protocol === 'string' && p.Protocol !== '') flow.protocol = lowerAscii(p.Protocol);
  if (application) {
    if (typeof p.Fqdn === 'string' && p.Fqdn !== '') flow.host = lowerAscii(p.Fqdn);
    const url =
      typeof p.TargetUrl === 'string' && p.TargetUrl !== '' ? parseAbsoluteUrl(p.TargetUrl) : undefined;
    if (url) {
      flow.host ??= url.host;
      flow.port = url.port;
    }
  }
  if (typeof p.DestinationIp === 'string' && p.DestinationIp !== '') {
    const address = normalizeAddress(p.DestinationIp);
    if (address === undefined) return `DestinationIp ${quote(p.DestinationIp)} is not an IP address`;
    flow.destination = address;
  }
  if (p.DestinationPort !== undefined && p.DestinationPort !== null && p.DestinationPort !== '') {
    const port = toPort(p.DestinationPort);
    if (port === undefined) return `DestinationPort ${quote(p.DestinationPort)} is not a port`;
    flow.port = port;
  }
  flow.port ??= flow.protocol === null ? null : defaultPort(flow.protocol);
  if (flow.host === null && flow.destination === null)
    return application ? 'neither Fqdn nor TargetUrl names a host' : 'DestinationIp is missing';
  const action = typeof p.Action === 'string' ? p.Action : '';
  return DENIED.test(action) ? keepDenied(flow) : flow;
}
