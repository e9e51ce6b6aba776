import { azureRecordBatches, joinRecordTuples, type TupleLayout } from './azure-records.js';
import { defineFormat, headText } from './batches.js';
import { normalizeAddress, parsePort, parseUint } from './fields.js';
import { type FlowTuple, FlowTupleJoiner } from './flow-tuples.js';
import { quote } from './problems.js';

const layout: TupleLayout = {
  root: 'properties',
  groups: 'flows',
  recordKind: 'an NSG flow log record',
  rootField: 'properties.flows',
  groupsField: 'properties.flows',
};

export const nsgFormat = defineFormat({
  name: 'nsg',
  description: 'Azure NSG flow logs (version 2 and 1), blob {"records": [...]} or one record per line',
  sniff(head) {
    const text = headText(head);
    if (!text.startsWith('{') || !text.includes('"flowTuples"') || text.includes('"flowGroups"')) return 0;
    return text.includes('NetworkSecurityGroupFlowEvent') ? 0.97 : 0.9;
  },
  parseBatches(input, ctx) {
    const joiner = new FlowTupleJoiner('nsg', ctx.file);
    return azureRecordBatches(
      input,
      ctx,
      (record, item, out) => joinRecordTuples(record, item, ctx, layout, nsgTuple, joiner, out),
      (out) => joiner.finish(out),
    );
  },
});

const nsgProtocols: Readonly<Record<string, string>> = { T: 'tcp', U: 'udp', I: 'icmp' };

/**
 * One NSG tuple `time,src,dst,sport,dport,proto,dir,decision[,state,pkts,bytes,pkts,bytes]`:
 * a FlowTuple for an outbound allowed flow, null for a tuple that is rightly skipped (inbound or
 * denied), or a message saying what is wrong with it.
 */
export function nsgTuple(text: unknown): FlowTuple | null | string {
  if (typeof text !== 'string') return 'is not a string';
  const f = text.split(',');
  if (f.length !== 8 && f.length !== 13)
    return `has ${f.length} fields, expected 13 (version 2) or 8 (version 1)`;
  const [time, source, destination, sourcePort, destinationPort, protocol, direction, decision, state] =
    f as [string, string, string, string, string, string, string, string, string | undefined];
  const seconds = parseUint(time);
  if (Number.isNaN(seconds)) return 'time is not epoch seconds';
  if (direction !== 'I' && direction !== 'O') return `direction ${quote(direction)} is not I or O`;
  if (decision !== 'A' && decision !== 'D') return `decision ${quote(decision)} is not A or D`;
  if (state !== undefined && state !== 'B' && state !== 'C' && state !== 'E')
    return `state ${quote(state)} is not B, C or E`;
  const src = normalizeAddress(source);
  const dst = normalizeAddress(destination);
  if (src === undefined) return 'source is not an IP address';
  if (dst === undefined) return 'destination is not an IP address';
  const ports = [parsePort(sourcePort), parsePort(destinationPort)];
  if (ports.some(Number.isNaN)) return 'a port is not 0-65535';
  const proto = nsgProtocols[protocol];
  if (proto === undefined) return `protocol ${quote(protocol)} is not T, U or I`;
  const counts = f.length === 13 ? f.slice(9).map((value) => (value === '' ? null : parseUint(value))) : [];
  if (counts.some((value) => value !== null && Number.isNaN(value)))
    return 'a packet or byte count is not a number';
  if (direction !== 'O' || decision !== 'A') return null;
  return {
    time: seconds * 1000,
    source: src,
    destination: dst,
    sourcePort: ports[0] as number,
    destinationPort: proto === 'icmp' ? null : (ports[1] as number),
    protocol: proto,
    state: state ?? null,
    bytesOut: counts[1] ?? null,
    bytesIn: counts[3] ?? null,
  };
}
