// The one mapping between a FlowRecord and the flat columns a flow store keeps. The DuckDB table, the
// JSONL lines and every record read back from either are built from this table, so both stores hold
// and return exactly the same fields.
import { emptyFlow, type FlowRecord } from '../flow/record.js';
import type { StoredFlow } from './store.js';

export type ColumnValue = string | number | null;

export interface FlowColumn {
  /** Column name in the DuckDB table (snake_case, documented in docs/gateway-api.md). */
  name: string;
  sqlType: 'BIGINT' | 'INTEGER' | 'DOUBLE' | 'VARCHAR';
  /** The column's value for a record, coerced to the column type (anything else becomes null). */
  read(flow: FlowRecord & { id?: number; gateway?: unknown }): ColumnValue;
  /** Puts a value read back from the store onto a record (absent for derived columns). */
  write?(flow: StoredFlow, value: ColumnValue): void;
}

// Untrusted shapes (JSONL lines written by hand, records built by other code) must never put a
// wrongly-typed value into a typed column: coercion turns them into null rather than failing a batch.
const text = (value: unknown): string | null => (typeof value === 'string' ? value : null);
const real = (value: unknown): number | null =>
  typeof value === 'number' && Number.isFinite(value) ? value : null;
/** 2^63: one past the greatest BIGINT (Int64); -2^63 is the least. Both are exact doubles. */
const int64Limit = 2 ** 63;
/** An integer for a BIGINT column: null beyond its range, which the store would refuse with the batch. */
const int64 = (value: number | null): number | null =>
  value !== null && value >= -int64Limit && value < int64Limit ? value : null;
const whole = (value: unknown): number | null => {
  const number = real(value);
  return number === null ? null : int64(Math.trunc(number));
};
const asText = (value: ColumnValue): string | null => (typeof value === 'string' ? value : null);
const asNumber = (value: ColumnValue): number | null => (typeof value === 'number' ? value : null);

/** The time a flow is filed under: its start, else its end; null when the input gave neither. */
export function flowTimeOf(flow: Pick<FlowRecord, 'start' | 'end'>): number | null {
  const time = real(flow.start) ?? real(flow.end);
  return time === null ? null : Math.floor(time);
}

/**
 * The path statistics count a flow under: the gateway's egress, else the actual path inferred for a
 * logged flow, else `unknown`. `flowPathSql` is the same rule for the DuckDB store.
 */
export function flowPathOf(flow: Pick<FlowRecord, 'egressPath' | 'actualPath'>): string {
  return flow.egressPath ?? flow.actualPath ?? 'unknown';
}
export const flowPathSql = "coalesce(egress_path, actual_path, 'unknown')";

/** Key for a missing verdict or outcome in statistics (logged flows have no outcome). */
export const noneKey = 'none';

// Optional FlowRecord fields typed `T | null` come back as null when unknown; optional fields
// without null in their type (verdict, outcome, ...) come back absent.
export const flowColumns: readonly FlowColumn[] = [
  {
    name: 'id',
    sqlType: 'BIGINT',
    read: (f) => whole(f.id),
    write: (f, v) => {
      f.id = asNumber(v) ?? 0;
    },
  },
  { name: 'time_ms', sqlType: 'BIGINT', read: (f) => int64(flowTimeOf(f)) },
  {
    name: 'start_ms',
    sqlType: 'DOUBLE',
    read: (f) => real(f.start),
    write: (f, v) => {
      f.start = asNumber(v);
    },
  },
  {
    name: 'end_ms',
    sqlType: 'DOUBLE',
    read: (f) => real(f.end),
    write: (f, v) => {
      f.end = asNumber(v);
    },
  },
  {
    name: 'origin_kind',
    sqlType: 'VARCHAR',
    read: (f) => text(f.origin?.kind),
    write: (f, v) => {
      f.origin.kind = (asText(v) ?? 'gateway') as FlowRecord['origin']['kind'];
    },
  },
  {
    name: 'origin_file',
    sqlType: 'VARCHAR',
    read: (f) => text(f.origin?.file),
    write: (f, v) => {
      const file = asText(v);
      if (file !== null) f.origin.file = file;
    },
  },
  {
    name: 'origin_line',
    sqlType: 'BIGINT',
    read: (f) => whole(f.origin?.line),
    write: (f, v) => {
      const line = asNumber(v);
      if (line !== null) f.origin.line = line;
    },
  },
  ...(['client', 'host', 'sni'] as const).map(
    (key): FlowColumn => ({
      name: key,
      sqlType: 'VARCHAR',
      read: (f) => text(f[key]),
      write: (f, v) => {
        f[key] = asText(v);
      },
    }),
  ),
  {
    name: 'http_host',
    sqlType: 'VARCHAR',
    read: (f) => text(f.httpHost),
    write: (f, v) => {
      f.httpHost = asText(v);
    },
  },
  {
    name: 'destination',
    sqlType: 'VARCHAR',
    read: (f) => text(f.destination),
    write: (f, v) => {
      f.destination = asText(v);
    },
  },
  {
    name: 'port',
    sqlType: 'INTEGER',
    read: (f) => {
      const port = whole(f.port);
      return port !== null && port >= 0 && port <= 65535 ? port : null;
    },
    write: (f, v) => {
      f.port = asNumber(v);
    },
  },
  {
    name: 'protocol',
    sqlType: 'VARCHAR',
    read: (f) => text(f.protocol),
    write: (f, v) => {
      f.protocol = asText(v);
    },
  },
  {
    name: 'component',
    sqlType: 'VARCHAR',
    read: (f) => text(f.component),
    write: (f, v) => {
      f.component = asText(v) as FlowRecord['component'];
    },
  },
  {
    name: 'bytes_up',
    sqlType: 'BIGINT',
    read: (f) => whole(f.bytesUp),
    write: (f, v) => {
      f.bytesUp = asNumber(v);
    },
  },
  {
    name: 'bytes_down',
    sqlType: 'BIGINT',
    read: (f) => whole(f.bytesDown),
    write: (f, v) => {
      f.bytesDown = asNumber(v);
    },
  },
  {
    name: 'source_address',
    sqlType: 'VARCHAR',
    read: (f) => text(f.sourceAddress),
    write: (f, v) => {
      f.sourceAddress = asText(v);
    },
  },
  {
    name: 'upstream',
    sqlType: 'VARCHAR',
    read: (f) => text(f.upstream),
    write: (f, v) => {
      f.upstream = asText(v);
    },
  },
  {
    name: 'connection_id',
    sqlType: 'VARCHAR',
    read: (f) => text(f.connectionId),
    write: (f, v) => {
      f.connectionId = asText(v);
    },
  },
  {
    name: 'actual_path',
    sqlType: 'VARCHAR',
    read: (f) => text(f.actualPath),
    write: (f, v) => {
      f.actualPath = (asText(v) ?? 'unknown') as FlowRecord['actualPath'];
    },
  },
  {
    name: 'actual_path_evidence',
    sqlType: 'VARCHAR',
    read: (f) => text(f.actualPathEvidence),
    write: (f, v) => {
      f.actualPathEvidence = asText(v);
    },
  },
  {
    name: 'expected_path',
    sqlType: 'VARCHAR',
    read: (f) => text(f.expectedPath),
    write: (f, v) => {
      const path = asText(v);
      if (path !== null) f.expectedPath = path as NonNullable<FlowRecord['expectedPath']>;
    },
  },
  {
    name: 'verdict',
    sqlType: 'VARCHAR',
    read: (f) => text(f.verdict),
    write: (f, v) => {
      const verdict = asText(v);
      if (verdict !== null) f.verdict = verdict as NonNullable<FlowRecord['verdict']>;
    },
  },
  {
    name: 'rule_id',
    sqlType: 'VARCHAR',
    read: (f) => text(f.ruleId),
    write: (f, v) => {
      f.ruleId = asText(v);
    },
  },
  {
    name: 'reason',
    sqlType: 'VARCHAR',
    read: (f) => text(f.reason),
    write: (f, v) => {
      const reason = asText(v);
      if (reason !== null) f.reason = reason;
    },
  },
  {
    name: 'egress_path',
    sqlType: 'VARCHAR',
    read: (f) => text(f.egressPath),
    write: (f, v) => {
      f.egressPath = asText(v) as FlowRecord['egressPath'];
    },
  },
  {
    name: 'outcome',
    sqlType: 'VARCHAR',
    read: (f) => text(f.outcome),
    write: (f, v) => {
      const outcome = asText(v);
      if (outcome !== null) f.outcome = outcome as NonNullable<FlowRecord['outcome']>;
    },
  },
  {
    name: 'error',
    sqlType: 'VARCHAR',
    read: (f) => text(f.error),
    write: (f, v) => {
      f.error = asText(v);
    },
  },
  {
    name: 'connect_ms',
    sqlType: 'DOUBLE',
    read: (f) => real(f.connectMs),
    write: (f, v) => {
      f.connectMs = asNumber(v);
    },
  },
  // Last, so that a DuckDB file from before it gets the column with one ALTER TABLE ... ADD COLUMN.
  {
    name: 'gateway',
    sqlType: 'VARCHAR',
    read: (f) => text(f.gateway) ?? '',
    write: (f, v) => {
      f.gateway = asText(v) ?? '';
    },
  },
];

/** Columns read back into records (the derived `time_ms` is for filtering and ordering only). */
export const storedColumns: readonly FlowColumn[] = flowColumns.filter((column) => column.write);

/** Index of the id and of the writer's name in a row of `flowColumns` values. */
export const ID_COLUMN = flowColumns.findIndex((column) => column.name === 'id');
export const GATEWAY_COLUMN = flowColumns.findIndex((column) => column.name === 'gateway');

/** Column values of one record, in `flowColumns` order. */
export function columnValuesOf(flow: FlowRecord & { id?: number; gateway?: unknown }): ColumnValue[] {
  return flowColumns.map((column) => column.read(flow));
}

/**
 * What columnValuesOf(toStoredFlow(flow, id, gateway)) returns, without building the stored record
 * in between (two arrays and a record of 30 fields per flow on the gateway's event loop): a column
 * read back from a stored record gives the value it was stored with, or, for null, what a record
 * without it holds (`actual_path` 'unknown', `origin_kind` 'gateway', `gateway` ''); those are
 * `nullReadBack`, worked out once from the same functions. columns.test.ts compares the two.
 */
export function storedValuesOf(
  flow: FlowRecord & { gateway?: unknown },
  id: number,
  gateway?: string,
): ColumnValue[] {
  const values = new Array<ColumnValue>(flowColumns.length);
  for (let index = 0; index < flowColumns.length; index++)
    values[index] = storedValueAt(flow, index, id, gateway);
  return values;
}

/** storedValuesOf(flow, id, gateway)[index], without the array (the DuckDB store's rows, duckdb-rows.ts). */
export function storedValueAt(
  flow: FlowRecord & { gateway?: unknown },
  index: number,
  id: number,
  gateway?: string,
): ColumnValue {
  const value =
    index === ID_COLUMN
      ? whole(id)
      : index === GATEWAY_COLUMN && gateway !== undefined
        ? gateway
        : (flowColumns[index] as FlowColumn).read(flow);
  return value ?? (nullReadBack[index] as ColumnValue);
}

/** A record from values in `storedColumns` order: the shape every store returns. */
export function storedFlowFromValues(values: readonly ColumnValue[]): StoredFlow {
  const flow: StoredFlow = { id: 0, ...emptyFlow({ kind: 'gateway' }), gateway: '' };

  storedColumns.forEach((column, index) => {
    column.write?.(flow, values[index] ?? null);
  });
  return flow;
}

/**
 * A record in the stored shape with its id and the name of who wrote it (a gateway's `id`, an audit's
 * id): what append() keeps and what queries return. Without `gateway`, the record's own is kept.
 */
export function toStoredFlow(
  flow: FlowRecord & { gateway?: unknown },
  id: number,
  gateway?: string,
): StoredFlow {
  // `id` is the first stored column and `gateway` the last; the others read the record as given.
  const values: ColumnValue[] = [id];
  for (let index = 1; index < storedColumns.length; index++)
    values.push((storedColumns[index] as FlowColumn).read(flow));
  if (gateway !== undefined) values[storedColumns.length - 1] = gateway;
  return storedFlowFromValues(values);
}

/** Each column's value read back from a stored record in which it was null (see storedValuesOf). */
const nullReadBack: readonly ColumnValue[] = columnValuesOf(
  storedFlowFromValues(storedColumns.map(() => null)),
);

/** Normalizes a record read from a file (a JSONL line); undefined when it has no valid id. */
export function normalizeStoredFlow(
  flow: FlowRecord & { id?: unknown; gateway?: unknown },
): StoredFlow | undefined {
  const id = flow.id;
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) return undefined;
  return toStoredFlow(flow, id);
}

const isTextOrNull = (value: unknown): boolean => value === null || typeof value === 'string';
const isNumberOrNull = (value: unknown): boolean => value === null || typeof value === 'number';
/** A BIGINT column's value that whole() keeps as it is (no fraction, within Int64). */
const isWholeOrNull = (value: unknown): boolean => value === null || Number.isSafeInteger(value);

/**
 * True when every field of a decided gateway record (record-json.ts `hasGatewayKeys`) is stored as
 * the record holds it, and its origin is `{ kind }` alone: then the stored record's JSON (without
 * its `id` and `gateway`) holds the record's own JSON members, only in another order, and the JSONL
 * store may build its line from them. Non-finite numbers qualify (JSON writes them as null, and the
 * columns store them as null); a field that reads back as something else does not (a string in a
 * number's place, a fraction in a BIGINT, a null where the stored record leaves the field out or
 * fills it in: `actualPath`, `expectedPath`, `verdict`, `reason`, `outcome`).
 */
export function storedAsGiven(flow: FlowRecord): boolean {
  const origin = flow.origin as unknown;
  return (
    typeof origin === 'object' &&
    origin !== null &&
    Object.getPrototypeOf(origin) === Object.prototype &&
    typeof (origin as FlowRecord['origin']).kind === 'string' &&
    Object.keys(origin).length === 1 &&
    isNumberOrNull(flow.start) &&
    isNumberOrNull(flow.end) &&
    isTextOrNull(flow.client) &&
    isTextOrNull(flow.host) &&
    isTextOrNull(flow.sni) &&
    isTextOrNull(flow.httpHost) &&
    isTextOrNull(flow.destination) &&
    (flow.port === null || (Number.isSafeInteger(flow.port) && flow.port >= 0 && flow.port <= 65535)) &&
    isTextOrNull(flow.protocol) &&
    isTextOrNull(flow.component) &&
    isWholeOrNull(flow.bytesUp) &&
    isWholeOrNull(flow.bytesDown) &&
    isTextOrNull(flow.sourceAddress) &&
    isTextOrNull(flow.upstream) &&
    isTextOrNull(flow.connectionId) &&
    typeof flow.actualPath === 'string' &&
    isTextOrNull(flow.actualPathEvidence) &&
    typeof flow.expectedPath === 'string' &&
    typeof flow.verdict === 'string' &&
    isTextOrNull(flow.ruleId) &&
    typeof flow.reason === 'string' &&
    isTextOrNull(flow.egressPath) &&
    typeof flow.outcome === 'string' &&
    isTextOrNull(flow.error) &&
    isNumberOrNull(flow.connectMs)
  );
}
