// The columns of pathwarden's own CSV / NDJSON flow form: FlowRecord field names, each with the
// check that turns a cell (CSV text or a JSON value) into the field's value. Shared by csv.ts and
// ndjson.ts so both forms accept exactly the same thing.

import type { FlowRecord } from '../flow/record.js';
import { components } from '../flow/vocabulary.js';
import { lowerAscii, normalizeAddress, parseIsoTime, parseUint } from './fields.js';

/** Fields read from a row or object, in the order docs/formats.md lists them. */
export const inputFields = [
  'start',
  'end',
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
  'actualPath',
  'actualPathEvidence',
  'connectionId',
] as const;
export type InputField = (typeof inputFields)[number];

/**
 * FlowRecord fields that a classified record carries (what `audit --ndjson` and `--csv` write,
 * the CSV with `origin` as three columns) but that are recomputed, not read: accepted without a
 * problem and ignored.
 */
export const ignoredFields = [
  'origin',
  'originKind',
  'originFile',
  'originLine',
  'expectedPath',
  'verdict',
  'ruleId',
  'reason',
  'egressPath',
  'outcome',
  'error',
] as const;

/** `bytes_up`, `Bytes-Up` and `bytesUp` name the same column. */
export function columnKey(name: string): string {
  return name.trim().replace(/[-_ ]/g, '').toLowerCase();
}

const byKey = new Map<string, InputField | null>();
for (const field of inputFields) byKey.set(columnKey(field), field);
for (const field of ignoredFields) byKey.set(columnKey(field), null);

/** The field a column name stands for; null for a known field that is ignored; undefined if unknown. */
export function fieldOfColumn(name: string): InputField | null | undefined {
  return byKey.get(columnKey(name));
}

const componentSet: ReadonlySet<string> = new Set(components);
const actualPaths: ReadonlySet<string> = new Set(['expressroute', 'internet', 'unknown']);

/**
 * Sets `field` of `flow` from a cell. An empty string or null leaves the field unknown. Returns a
 * message saying what the value should be when it is not acceptable.
 */
export function assignField(flow: FlowRecord, field: InputField, value: unknown): string | undefined {
  if (value === null || value === undefined || value === '') return undefined;
  switch (field) {
    case 'start':
    case 'end': {
      const time = toTime(value);
      if (time === undefined) return 'epoch milliseconds or an ISO 8601 time';
      flow[field] = time;
      return undefined;
    }
    case 'port':
    case 'bytesUp':
    case 'bytesDown': {
      const number = toCount(value);
      if (number === undefined || (field === 'port' && number > 65535))
        return field === 'port' ? 'a port 0-65535' : 'a byte count';
      flow[field] = number;
      return undefined;
    }
    case 'destination':
    case 'sourceAddress': {
      if (typeof value !== 'string') return 'an IP address';
      const address = normalizeAddress(value.trim());
      if (address === undefined) return 'an IP address';
      flow[field] = address;
      return undefined;
    }
    case 'component': {
      const text = typeof value === 'string' ? value.trim().toLowerCase() : '';
      if (!componentSet.has(text)) return `one of ${components.join(', ')}`;
      flow.component = text as FlowRecord['component'];
      return undefined;
    }
    case 'actualPath': {
      const text = typeof value === 'string' ? value.trim().toLowerCase() : '';
      if (!actualPaths.has(text)) return 'expressroute, internet or unknown';
      flow.actualPath = text as FlowRecord['actualPath'];
      return undefined;
    }
    case 'host':
    case 'sni':
    case 'httpHost':
    case 'protocol': {
      if (typeof value !== 'string') return 'a string';
      const text = lowerAscii(value.trim());
      if (text !== '') flow[field] = text;
      return undefined;
    }
    default: {
      // client, upstream, actualPathEvidence, connectionId: kept as written
      if (typeof value !== 'string' && typeof value !== 'number') return 'a string';
      const text = String(value).trim();
      if (text !== '') flow[field] = text;
      return undefined;
    }
  }
}

function toTime(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return parseUint(text);
  const time = parseIsoTime(text);
  return Number.isNaN(time) ? undefined : time;
}

function toCount(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const number = parseUint(value.trim());
  return Number.isNaN(number) ? undefined : number;
}

/** A record worth classifying names something: a host, SNI, HTTP Host or destination address. */
export function namesATarget(flow: FlowRecord): boolean {
  return flow.host !== null || flow.sni !== null || flow.httpHost !== null || flow.destination !== null;
}
