// Azure Firewall rule logs: the legacy diagnostics categories AzureFirewallApplicationRule /
// AzureFirewallNetworkRule (free text in properties.msg, or msg_s in a Log Analytics export of the
// AzureDiagnostics table, as JSON or CSV) and the structured resource-specific
// AZFWApplicationRule / AZFWNetworkRule. Other firewall categories (DNS proxy, threat intel, NAT)
// carry no outbound flow and are skipped.
import type { FlowRecord } from '../flow/record.js';
import { emptyFlow } from '../flow/record.js';
import { type AzureRecord, azureRecordBatches, propertiesOf } from './azure-records.js';
import { defineFormat, headLines, headText, type LineParser, lineBatches } from './batches.js';
import { CsvRowJoiner, delimiterOf, splitRow } from './csv-rows.js';
import {
  lowerAscii,
  normalizeAddress,
  parseAbsoluteUrl,
  parseIsoTime,
  parseUsTime,
  splitHostPort,
  toPort,
} from './fields.js';
import type { IngestContext } from './format.js';
import type { JsonItem } from './json-scan.js';
import { peek } from './open-input.js';
import { badField, quote } from './problems.js';

const CATEGORY_NAMES =
  'AzureFirewallApplicationRule|AzureFirewallNetworkRule|AZFWApplicationRule|AZFWNetworkRule';
const CATEGORY = new RegExp(`"(?:category|Category|Type)"\\s*:\\s*"(?:${CATEGORY_NAMES})"`);
const CSV_CATEGORY = new RegExp(`(?:^|[,;\t"])(?:${CATEGORY_NAMES})(?:$|[,;\t"])`, 'm');

export const azfwFormat = defineFormat({
  name: 'azfw',
  description: 'Azure Firewall application and network rule logs (legacy msg text and structured AZFW*)',
  sniff(head) {
    const text = headText(head);
    if (text.startsWith('{') || text.startsWith('[')) {
      if (CATEGORY.test(text)) return 0.95;
      if (/"(?:category|Category|Type)"\s*:\s*"(?:AzureFirewall|AZFW)/.test(text)) return 0.7;
      return 0;
    }
    // A Log Analytics CSV export: a header with Category and msg_s, rows of firewall categories.
    const header = headLines(head, 1)[0];
    if (header === undefined) return 0;
    const columns = splitRow(header, delimiterOf(header)) ?? [];
    if (!columns.includes('msg_s') || !columns.includes('Category')) return 0;
    return CSV_CATEGORY.test(text) ? 0.95 : 0.6;
  },
  async *parseBatches(input, ctx) {
    // CSV only when the first line is a header naming msg_s or Category; anything else is JSON
    // (blob, record per line, array), so that a JSON-lines file whose first line is broken is
    // still read, from its second line on.
    const peeked = await peek(input, 4096);
    const json = !isCsvHeader(headLines(peeked.head, 1)[0] ?? '');
    const onRecord = (record: AzureRecord, item: JsonItem, out: FlowRecord[]) =>
      firewallRecord(record, item, ctx, out);
    yield* json
      ? azureRecordBatches(peeked.stream, ctx, onRecord)
      : lineBatches(() => csvRecords(ctx, onRecord))(peeked.stream, ctx);
  },
});

/** A Log Analytics CSV header: not JSON, and a column named msg_s or Category. */
function isCsvHeader(line: string): boolean {
  if (/^\s*[[{]/.test(line)) return false;
  const columns = splitRow(line, delimiterOf(line)) ?? [];
  return columns.includes('msg_s') || columns.includes('Category');
}

/**
 * The rows of a CSV export as records keyed by the header's column names, handed to `onRecord`
 * like JSON records (each with its line and its 1-based row number).
 */
function csvRecords(
  ctx: IngestContext,
  onRecord: (record: AzureRecord, item: JsonItem, out: FlowRecord[]) => void,
): LineParser {
  const rows = new CsvRowJoiner((line, message) => ctx.problem(line, message));
  let columns: string[] | null = null;
  let index = 0;
  return {
    line(text, lineNumber, out) {
      const row = rows.line(text, lineNumber);
      if (row === undefined) return;
      if (columns === null) {
        rows.delimiter = delimiterOf(row.text);
        columns = splitRow(row.text, rows.delimiter) ?? [];
        return;
      }
      index++;
      if (row.cells.length !== columns.length) {
        ctx.problem(row.line, `row has ${row.cells.length} cells, the header ${columns.length}`);
        return;
      }
      const record: AzureRecord = {};
      for (const [i, name] of columns.entries()) record[name] = row.cells[i];
      onRecord(record, { value: record, line: row.line, index }, out);
    },
    end() {
      rows.end();
    },
  };
}

/**
 * The category of a record: `category` of a diagnostic record, `Type` of a resource-specific
 * table row, `Category` of an AzureDiagnostics row (whose `Type` is `AzureDiagnostics`).
 */
function categoryOf(record: AzureRecord): unknown {
  if (typeof record.category === 'string') return record.category;
  if (
    typeof record.Category === 'string' &&
    (record.Type === undefined || record.Type === 'AzureDiagnostics')
  )
    return record.Category;
  return record.Type;
}

/** A record time: ISO 8601, or the en-US form of a portal CSV export (`TimeGenerated [UTC]`). */
function timeOf(value: unknown): number {
  if (typeof value !== 'string') return Number.NaN;
  const iso = parseIsoTime(value);
  return Number.isNaN(iso) ? parseUsTime(value) : iso;
}

function firewallRecord(record: AzureRecord, item: JsonItem, ctx: IngestContext, out: FlowRecord[]): void {
  const category = categoryOf(record);
  if (typeof category !== 'string') {
    ctx.problem(item.line, `record ${item.index} has no category`, 'category');
    return;
  }
  const properties = propertiesOf(record);
  const timeValue =
    record.time ?? record.TimeGenerated ?? properties.TimeGenerated ?? record['TimeGenerated [UTC]'];
  const time = timeOf(timeValue);
  if (Number.isNaN(time)) {
    badField(ctx, item.line, 'time', timeValue, 'an ISO 8601 time');
    return;
  }
  let flow: FlowRecord | null | string;
  let field: string | undefined;
  switch (category) {
    case 'AzureFirewallApplicationRule':
    case 'AzureFirewallNetworkRule':
      // Log Analytics keeps the text in the AzureDiagnostics column msg_s.
      field = properties.msg === undefined && record.msg_s !== undefined ? 'msg_s' : 'properties.msg';
      flow = legacyFlow(field === 'msg_s' ? record.msg_s : properties.msg, item.line, ctx, field);
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
    ctx.problem(item.line, `record ${item.index} (${category}): ${flow}`, field);
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
export function legacyFlow(
  msg: unknown,
  line: number,
  ctx: IngestContext,
  field = 'properties.msg',
): FlowRecord | null | string {
  if (typeof msg !== 'string' || msg === '') return `${field} is missing`;
  if (msg.includes(" was DNAT'ed to ")) return null; // inbound NAT, not an outbound flow
  const from = msg.indexOf(' request from ');
  if (from < 0) return `${field} ${quote(msg)} is not a "<PROTO> request from ..." message`;
  const protocol = lowerAscii(msg.slice(0, msg.indexOf(' ')));
  const rest = msg.slice(from + 14);
  const sentenceEnd = rest.search(/\.(?: |$)/);
  const head = sentenceEnd < 0 ? rest : rest.slice(0, sentenceEnd);
  const to = head.indexOf(' to ');
  const sourceText = to < 0 ? head : head.slice(0, to);
  const targetText = to < 0 ? '' : head.slice(to + 4);
  const action = /Action: (\w+)/.exec(msg)?.[1];
  if (action === undefined) return `${field} ${quote(msg)} has no "Action:"`;
  const source = splitMessageAddress(sourceText);
  const client = source ? normalizeAddress(source.host) : undefined;
  if (client === undefined) return `${field} source ${quote(sourceText)} is not an address`;
  const flow = emptyFlow({ kind: 'azfw', file: ctx.file, line });
  flow.client = client;
  flow.protocol = protocol;
  if (targetText !== '') {
    const target = splitMessageAddress(targetText);
    if (!target || target.host === '') return `${field} target ${quote(targetText)} is not host:port`;
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
