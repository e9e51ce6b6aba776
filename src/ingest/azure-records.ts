// Azure resource logs come in two shapes: a blob / Event Hub message `{"records": [ ... ]}` (one
// line or pretty-printed) and one record per line. Both are read by one incremental scan that
// hands each record object over with its line; the formats only say what a record means.
import type { Readable } from 'node:stream';
import type { FlowRecord } from '../flow/record.js';
import type { IngestContext } from './format.js';
import { type JsonItem, JsonScanner } from './json-scan.js';

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
  const scanner = new JsonScanner(ctx, { path: ['records'], wholeValues: true, resync: true }, (item) => {
    if (!isObject(item.value)) {
      ctx.problem(item.line, `record ${item.index} is not a JSON object`);
      return;
    }
    onRecord(item.value, item, out);
  });
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
