import { azureRecordBatches, joinRecordTuples, type TupleLayout } from './azure-records.js';
import { defineFormat, headText } from './batches.js';
import { normalizeAddress, parsePort, parseUint, protocolName } from './fields.js';
import { type FlowTuple, FlowTupleJoiner } from './flow-tuples.js';
import { quote } from './problems.js';

const layout: TupleLayout = {
  root: 'flowRecords',
  groups: 'flowGroups',
  recordKind: 'a VNet flow log record',
  rootField: 'flowRecords',
  groupsField: 'flowGroups',
};

export const vnetFormat = defineFormat({
  name: 'vnet',
  description: 'Azure VNet flow logs (flowLogVersion 4), blob {"records": [...]} or one record per line',
  sniff(head) {
    const text = headText(head);
    if (!text.startsWith('{')) return 0;
    if (text.includes('"flowGroups"') || text.includes('"flowLogVersion"')) return 0.95;
    if (text.includes('"FlowLogFlowEvent"') && text.includes('"flowRecords"')) return 0.9;
    return 0;
  },
  parseBatches(input, ctx) {
    const joiner = new FlowTupleJoiner('vnet', ctx.file);
    return azureRecordBatches(
      input,
      ctx,
      (record, item, out) => joinRecordTuples(record, item, ctx, layout, vnetTuple, joiner, out),
      (out) => joiner.finish(out),
    );
  },
});

/**
 * One VNet tuple `time_ms,src,dst,sport,dport,proto,dir,state,encryption,pkts,bytes,pkts,bytes`:
 * a FlowTuple for an outbound flow that was not denied, null for one rightly skipped (inbound or
 * state D), or a message saying what is wrong with it.
 */
export function vnetTuple(text: unknown): FlowTuple | null | string {
  if (typeof text !== 'string') return 'is not a string';
  const f = text.split(',');
  if (f.length !== 13) return `has ${f.length} fields, expected 13`;
  const [time, source, destination, sourcePort, destinationPort, protocol, direction, state] = f as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const millis = parseUint(time);
  if (Number.isNaN(millis)) return 'time is not epoch milliseconds';
  if (direction !== 'I' && direction !== 'O') return `direction ${quote(direction)} is not I or O`;
  if (state !== 'B' && state !== 'C' && state !== 'E' && state !== 'D')
    return `state ${quote(state)} is not B, C, E or D`;
  const src = normalizeAddress(source);
  const dst = normalizeAddress(destination);
  if (src === undefined) return 'source is not an IP address';
  if (dst === undefined) return 'destination is not an IP address';
  const ports = [parsePort(sourcePort), parsePort(destinationPort)];
  if (ports.some(Number.isNaN)) return 'a port is not 0-65535';
  const protocolNumber = parseUint(protocol);
  if (!(protocolNumber <= 255)) return `protocol ${quote(protocol)} is not an IP protocol number`;
  const counts = f.slice(9).map((value) => (value === '' ? null : parseUint(value)));
  if (counts.some((value) => value !== null && Number.isNaN(value)))
    return 'a packet or byte count is not a number';
  if (direction !== 'O' || state === 'D') return null;
  const proto = protocolName(protocolNumber);
  return {
    time: millis,
    source: src,
    destination: dst,
    sourcePort: ports[0] as number,
    destinationPort: proto === 'icmp' ? null : (ports[1] as number),
    protocol: proto,
    state,
    bytesOut: state === 'B' ? null : (counts[1] ?? null),
    bytesIn: state === 'B' ? null : (counts[3] ?? null),
  };
}
