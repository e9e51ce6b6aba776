// The one mapping from a classified FlowRecord to output fields, shared by --ndjson (nested, one
// JSON object per flow) and --csv (flat columns): both list the same fields in the same order, so
// a column added to FlowRecord shows up in both or in neither.
import type { FlowRecord } from '../flow/record.js';

/** FlowRecord fields in output order; `origin` is an object (flattened to three CSV columns). */
export const flowFields = [
  'start',
  'end',
  'origin',
  'client',
  'host',
  'sni',
  'httpHost',
  'destination',
  'port',
  'protocol',
  'component',
  'bytesUp',
  'bytesDown',
  'sourceAddress',
  'upstream',
  'connectionId',
  'actualPath',
  'actualPathEvidence',
  'expectedPath',
  'verdict',
  'ruleId',
  'reason',
  'egressPath',
  'outcome',
  'error',
] as const satisfies readonly (keyof FlowRecord)[];

/** Fields the gateway fills and logs never do: written to NDJSON only when present. */
const gatewayOnly = new Set<string>(['egressPath', 'outcome', 'error']);

export type Cell = string | number | null;

/** CSV header: the fields of `flowFields`, with `origin` as `originKind`, `originFile`, `originLine`. */
export const flowColumns: readonly string[] = flowFields.flatMap((field) =>
  field === 'origin' ? ['originKind', 'originFile', 'originLine'] : [field],
);

/** The cells of one flow in `flowColumns` order; absent values are null. */
export function flowCells(flow: FlowRecord): Cell[] {
  const cells: Cell[] = [];
  for (const field of flowFields) {
    if (field === 'origin') {
      cells.push(flow.origin.kind, flow.origin.file ?? null, flow.origin.line ?? null);
    } else {
      cells.push((flow[field] as Cell | undefined) ?? null);
    }
  }
  return cells;
}

/** The flow as a plain object with its fields in `flowFields` order (gateway fields when set). */
export function flowObject(flow: FlowRecord): Record<string, unknown> {
  const object: Record<string, unknown> = {};
  for (const field of flowFields) {
    const value = field === 'origin' ? { ...flow.origin } : flow[field];
    if (value === undefined) {
      if (gatewayOnly.has(field)) continue;
      object[field] = null;
    } else {
      object[field] = value;
    }
  }
  return object;
}
