// Azure VNet flow logs (Network Watcher, flowLogVersion 4): records of category FlowLogFlowEvent
// with flowRecords.flows[].flowGroups[].flowTuples. Outbound, not denied tuples become flows
// (B / C / E joined per connection, as for NSG flow logs); inbound and denied (D) are skipped.
import type { FlowRecord } from '../flow/record.js';
import { type AzureRecord, azureRecordBatches, isObject } from './azure-records.js';
import { defineFormat, headText } from './batches.js';
import { normalizeAddress, parsePort, parseUint, protocolName } from './fields.js';
import { type FlowTuple, FlowTupleJoiner } from './flow-tuples.js';
import type { IngestContext } from './format.js';
import type { JsonItem } from './json-scan.js';
import { quote } from './problems.js';

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
      (record, item, out) => vnetRecord(record, item, ctx, joiner, out),
      (out) => joiner.finish(out),
    );
  },
});

function vnetRecord(
  record: AzureRecord,
  item: JsonItem,
  ctx: IngestContext,
  joiner: FlowTupleJoiner,
  out: FlowRecord[],
) {
  const flowRecords = record.flowRecords;
  if (!isObject(flowRecords) || !Array.isArray(flowRecords.flows)) {
    ctx.problem(
      item.line,
      `record ${item.index} has no flowRecords.flows: not a VNet flow log record`,
      'flowRecords',
    );
    return;
  }
  for (const [a, acl] of flowRecords.flows.entries()) {
    if (!isObject(acl) || !Array.isArray(acl.flowGroups)) {
      ctx.problem(
        item.line,
        `record ${item.index}: flowRecords.flows[${a}] has no flowGroups array`,
        'flowGroups',
      );
      continue;
    }
    for (const [g, group] of acl.flowGroups.entries()) {
      const where = `flowRecords.flows[${a}].flowGroups[${g}]`;
      if (!isObject(group) || !Array.isArray(group.flowTuples)) {
        ctx.problem(item.line, `record ${item.index}: ${where} has no flowTuples array`, 'flowTuples');
        continue;
      }
      for (const [t, text] of group.flowTuples.entries()) {
        const tuple = vnetTuple(text);
        if (typeof tuple === 'string') {
          ctx.problem(
            item.line,
            `record ${item.index}: ${where}.flowTuples[${t}] ${quote(text)}: ${tuple}`,
            'flowTuples',
          );
        } else if (tuple !== null) {
          joiner.add(tuple, item.line, out);
        }
      }
    }
  }
}

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
