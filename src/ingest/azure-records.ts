// Azure resource logs come in three shapes: a blob / Event Hub message `{"records": [ ... ]}` (one
// line or pretty-printed), one record per line, and a JSON array of records (Log Analytics query
// results). Both are read by one incremental scan that
// hands each record object over with its line; the formats only say what a record means.
import type { Readable } from 'node:stream';
import type { FlowRecord } from '../flow/record.js';
import type { FlowTuple, FlowTupleJoiner } from './flow-tuples.js';
import type { IngestContext } from './format.js';
import { type JsonItem, JsonScanner } from './json-scan.js';
import { quote } from './problems.js';

export type AzureRecord = Record<string, unknown>;

export function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Streams the records of an Azure resource log and lets `onRecord` push flows onto `out`; flows
 * are passed on once per input chunk. `finish` runs after the last record (to flush state).
 */
export async function* azureRecordBatches(
  input: Readable | AsyncIterable<Buffer | string>,
  ctx: IngestContext,
  onRecord: (record: AzureRecord, item: JsonItem, out: FlowRecord[]) => void,
  finish?: (out: FlowRecord[]) => void,
): AsyncGenerator<FlowRecord[], void, undefined> {
  let out: FlowRecord[] = [];
  const scanner = new JsonScanner(
    ctx,
    { path: ['records'], wholeValues: true, resync: true, topLevelArray: true },
    (item) => {
      if (!isObject(item.value)) {
        ctx.problem(item.line, `record ${item.index} is not a JSON object`);
        return;
      }
      onRecord(item.value, item, out);
    },
  );
  for await (const _ of scanner.scan(input)) {
    if (out.length > 0) {
      yield out;
      out = [];
    }
  }
  finish?.(out);
  if (out.length > 0) yield out;
}

/** A record's properties: `properties` of a diagnostic record, or the record itself (Log Analytics export). */
export function propertiesOf(record: AzureRecord): Record<string, unknown> {
  return isObject(record.properties) ? record.properties : record;
}

/**
 * Where an NSG or VNet flow log keeps its tuples: `record.<root>.flows[i].<groups>[j].flowTuples[k]`
 * (NSG: properties / flows; VNet: flowRecords / flowGroups), and how its problems name the parts.
 */
export interface TupleLayout {
  root: 'properties' | 'flowRecords';
  groups: 'flows' | 'flowGroups';
  /** e.g. `an NSG flow log record`, for a record without the root array. */
  recordKind: string;
  /** `field` of the problems for a missing root array and a missing groups array. */
  rootField: string;
  groupsField: string;
}

/** Walks every tuple of one NSG / VNet record into the joiner; bad parts are reported and skipped. */
export function joinRecordTuples(
  record: AzureRecord,
  item: JsonItem,
  ctx: IngestContext,
  layout: TupleLayout,
  parseTuple: (text: unknown) => FlowTuple | null | string,
  joiner: FlowTupleJoiner,
  out: FlowRecord[],
): void {
  const root = record[layout.root];
  if (!isObject(root) || !Array.isArray(root.flows)) {
    ctx.problem(
      item.line,
      `record ${item.index} has no ${layout.root}.flows: not ${layout.recordKind}`,
      layout.rootField,
    );
    return;
  }
  for (const [r, outer] of root.flows.entries()) {
    const groups = isObject(outer) ? outer[layout.groups] : undefined;
    if (!Array.isArray(groups)) {
      ctx.problem(
        item.line,
        `record ${item.index}: ${layout.root}.flows[${r}] has no ${layout.groups} array`,
        layout.groupsField,
      );
      continue;
    }
    for (const [g, group] of groups.entries()) {
      const where = `${layout.root}.flows[${r}].${layout.groups}[${g}]`;
      if (!isObject(group) || !Array.isArray(group.flowTuples)) {
        ctx.problem(item.line, `record ${item.index}: ${where} has no flowTuples array`, 'flowTuples');
        continue;
      }
      for (const [t, text] of group.flowTuples.entries()) {
        const tuple = parseTuple(text);
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
