// AWS VPC flow logs: the default version 2 format (14 space-separated fields), or any custom
// field order when the file starts with its header line (as flow logs delivered to S3 do) or when
// the user names the fields (`--vpc-fields`: CloudWatch Logs and Firehose deliver no header; Transit
// Gateway flow logs are read the same way). Accepted records become flows; REJECT, NODATA and
// SKIPDATA lines carry none.
import { PathwardenError } from '../errors.js';
import { emptyFlow, type FlowRecord } from '../flow/record.js';
import { defineFormat, headLines, type LineParser, lineBatches } from './batches.js';
import { normalizeAddress, parsePort, parseUint, protocolName } from './fields.js';
import type { IngestContext } from './format.js';
import { badField } from './problems.js';

/** The default (version 2) fields, in order. */
export const defaultVpcFields = [
  'version',
  'account-id',
  'interface-id',
  'srcaddr',
  'dstaddr',
  'srcport',
  'dstport',
  'protocol',
  'packets',
  'bytes',
  'start',
  'end',
  'action',
  'log-status',
] as const;

const DEFAULT_LINE =
  /^\d+ +(?:\d{12}|unknown|-) +(?:eni-[0-9a-f]+|-) +\S+ +\S+ +\S+ +\S+ +\S+ +\S+ +\S+ +\d+ +\d+ +\S+ +\S+$/;

export const vpcFormat = defineFormat({
  name: 'vpc',
  description: 'AWS VPC flow logs (default version 2 format, or any fields with a header line)',
  sniff(head) {
    const lines = headLines(head);
    const first = lines[0];
    if (first === undefined) return 0;
    if (
      /^version account-id interface-id /.test(first) ||
      /^(?:\S+ )*srcaddr (?:\S+ )*dstaddr( |$)/.test(first)
    )
      return 0.95;
    const matching = lines.filter((line) => DEFAULT_LINE.test(line)).length;
    return matching === 0 ? 0 : 0.6 + 0.3 * (matching / lines.length);
  },
  parseBatches: lineBatches((ctx) => new VpcLineParser(ctx)),
});

/**
 * The fields of `--vpc-fields`: names separated by spaces or commas, bare (`version account-id`)
 * or in the `${version} ${account-id}` form of a flow log's LogFormat. Both addresses must be
 * among them. Throws PW_ERR_USAGE otherwise.
 */
export function parseVpcFields(text: string): string[] {
  const names = text
    .split(/[\s,]+/)
    .filter((name) => name !== '')
    .map((name) => (name.startsWith('${') && name.endsWith('}') ? name.slice(2, -1) : name));
  const bad = names.filter((name) => !/^[a-z][a-z0-9-]*$/.test(name));
  if (bad.length > 0) {
    throw new PathwardenError(
      'PW_ERR_USAGE',
      `--vpc-fields: ${bad.map((name) => JSON.stringify(name)).join(', ')} ${bad.length === 1 ? 'is not a field name' : 'are not field names'} (lower-case, digits and -, as AWS names them)`,
    );
  }
  const twice = names.find((name, index) => names.indexOf(name) !== index);
  if (twice !== undefined)
    throw new PathwardenError('PW_ERR_USAGE', `--vpc-fields: "${twice}" is named twice`);
  if (!names.includes('srcaddr') || !names.includes('dstaddr'))
    throw new PathwardenError('PW_ERR_USAGE', '--vpc-fields must name srcaddr and dstaddr');
  return names;
}

class VpcLineParser implements LineParser {
  #fields: readonly string[];
  #index: Map<string, number>;

  constructor(private readonly ctx: IngestContext) {
    this.#fields = ctx.options?.vpcFields ?? defaultVpcFields;
    this.#index = indexOf(this.#fields);
  }

  line(line: string, lineNumber: number, out: FlowRecord[]): void {
    const ctx = this.ctx;
    const values = line.trim().split(/ +/);
    if (values.includes('srcaddr') && values.includes('dstaddr')) {
      this.#fields = values; // a header line: the field order of what follows
      this.#index = indexOf(values);
      return;
    }
    if (values.length !== this.#fields.length) {
      ctx.problem(lineNumber, `has ${values.length} fields, expected ${this.#fields.length}`);
      return;
    }
    const get = (name: string): string | undefined => {
      const index = this.#index.get(name);
      return index === undefined ? undefined : values[index];
    };
    const status = get('log-status');
    if (status === 'NODATA' || status === 'SKIPDATA') return; // no traffic / records skipped by AWS
    const action = get('action');
    if (action === 'REJECT') return; // never left: no path to check
    if (action !== undefined && action !== 'ACCEPT') {
      badField(ctx, lineNumber, 'action', action, 'ACCEPT or REJECT');
      return;
    }
    const direction = get('flow-direction');
    if (direction === 'ingress') return; // with version 5 fields: keep what leaves the interface
    const source = normalizeAddress(get('srcaddr') ?? '');
    const destination = normalizeAddress(get('dstaddr') ?? '');
    if (source === undefined) {
      badField(ctx, lineNumber, 'srcaddr', get('srcaddr'), 'an IP address');
      return;
    }
    if (destination === undefined) {
      badField(ctx, lineNumber, 'dstaddr', get('dstaddr'), 'an IP address');
      return;
    }
    const flow = emptyFlow({ kind: 'vpc', file: ctx.file, line: lineNumber });
    flow.client = source;
    flow.sourceAddress = source;
    flow.destination = destination;
    const protocolText = get('protocol');
    if (protocolText !== undefined && protocolText !== '-') {
      const number = parseUint(protocolText);
      if (!(number <= 255)) {
        badField(ctx, lineNumber, 'protocol', protocolText, 'an IP protocol number');
        return;
      }
      flow.protocol = protocolName(number);
    }
    const portText = get('dstport');
    if (
      portText !== undefined &&
      portText !== '-' &&
      flow.protocol !== 'icmp' &&
      flow.protocol !== 'icmpv6'
    ) {
      const port = parsePort(portText);
      if (Number.isNaN(port)) {
        badField(ctx, lineNumber, 'dstport', portText, 'a port');
        return;
      }
      flow.port = port;
    }
    for (const [name, key] of [
      ['start', 'start'],
      ['end', 'end'],
    ] as const) {
      const text = get(name);
      if (text === undefined || text === '-') continue;
      const seconds = parseUint(text);
      if (Number.isNaN(seconds)) {
        badField(ctx, lineNumber, name, text, 'epoch seconds');
        return;
      }
      flow[key] = seconds * 1000;
    }
    const bytes = get('bytes');
    if (bytes !== undefined && bytes !== '-') {
      const count = parseUint(bytes);
      if (Number.isNaN(count)) {
        badField(ctx, lineNumber, 'bytes', bytes, 'a byte count');
        return;
      }
      flow.bytesUp = count; // one direction per record: source to destination
    }
    out.push(flow);
  }
}

function indexOf(fields: readonly string[]): Map<string, number> {
  return new Map(fields.map((name, index) => [name, index]));
}
