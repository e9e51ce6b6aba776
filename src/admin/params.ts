// Query-string parameters of the admin API, parsed into typed values at the edge: every endpoint
// declares the parameters it takes, and anything unknown, repeated or malformed is a 400 that names
// the parameter. Meaning checks (known verdicts, page size) stay with the store's normalizeFlowQuery;
// `queryFieldParameter` maps its field names back to parameter names for the error.
import { type Component, components, type EgressPath, egressPaths } from '../catalog/model.js';
import { type ErrorCode, PathwardenError } from '../errors.js';
import type { QueryField } from '../store/query.js';
import type { FlowQuery, StatsRange } from '../store/store.js';

export class ParameterError extends PathwardenError {
  readonly parameter: string;

  constructor(parameter: string, message: string, code: ErrorCode = 'PW_ERR_QUERY_INVALID') {
    super(code, message);
    this.parameter = parameter;
  }
}

/** URL parameter of each FlowQuery / stats field (they differ where the URL is shorter). */
export const queryFieldParameter: Record<QueryField, string> = {
  host: 'host',
  component: 'component',
  verdict: 'verdict',
  expectedPath: 'path',
  egressPath: 'egress',
  outcome: 'outcome',
  gateway: 'gateway',
  from: 'from',
  to: 'to',
  limit: 'limit',
  cursor: 'cursor',
  offset: 'offset',
  bucketMs: 'bucket',
  series: 'series',
};

/**
 * The parameters of a request, checked against the ones the endpoint takes. An empty value counts
 * as absent (an HTML form sends `host=` for an empty box); a repeated one is an error, never
 * silently first-wins or last-wins.
 */
function readParameters(url: URL, accepted: readonly string[]): Map<string, string> {
  const values = new Map<string, string>();
  const seen = new Set<string>();
  for (const [name, value] of url.searchParams) {
    if (!accepted.includes(name)) {
      throw new ParameterError(
        name,
        `unknown parameter ${JSON.stringify(name)}; this endpoint takes ${accepted.length > 0 ? accepted.join(', ') : 'none'}`,
      );
    }
    if (seen.has(name)) throw new ParameterError(name, `parameter ${name} is given more than once`);
    seen.add(name);
    if (value !== '') values.set(name, value);
  }
  return values;
}

const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const isoTime = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2}))?$/;

/**
 * A time: epoch milliseconds, an ISO 8601 date (UTC) or date-time with its zone (`Z` or `+01:00`:
 * never the server's local time), `now`, or `now-<n><unit>` with ms, s, m, h, d.
 */
export function parseTime(parameter: string, text: string, now: number): number {
  if (/^\d{1,16}$/.test(text)) return Number(text);
  if (text === 'now') return now;
  const relative = /^now-(\d{1,12})(ms|s|m|h|d)$/.exec(text);
  if (relative) return Math.max(0, now - Number(relative[1]) * (units[relative[2] as string] as number));
  if (isoTime.test(text)) {
    const time = Date.parse(text);
    if (!Number.isNaN(time) && time >= 0) return time;
  }
  throw new ParameterError(
    parameter,
    `${parameter} must be epoch milliseconds, an ISO 8601 time with a zone (2025-01-15T12:00:00Z), now or now-15m; got ${JSON.stringify(text)}`,
  );
}

/** A duration: milliseconds, or `<n><unit>` with ms, s, m, h, d (`5m`). */
export function parseDuration(parameter: string, text: string): number {
  const match = /^(\d{1,12})(ms|s|m|h|d)?$/.exec(text);
  if (!match) {
    throw new ParameterError(
      parameter,
      `${parameter} must be milliseconds or a duration like 30s, 5m, 1h; got ${JSON.stringify(text)}`,
    );
  }
  return Number(match[1]) * (units[match[2] ?? 'ms'] as number);
}

function parseCount(parameter: string, text: string): number {
  if (!/^\d{1,15}$/.test(text))
    throw new ParameterError(parameter, `${parameter} must be a whole number; got ${JSON.stringify(text)}`);
  return Number(text);
}

/** GET /api/flows */
export function flowQueryFromUrl(url: URL, now: number): FlowQuery {
  const values = readParameters(url, [
    'host',
    'component',
    'verdict',
    'path',
    'egress',
    'outcome',
    'gateway',
    'from',
    'to',
    'limit',
    'cursor',
    'offset',
  ]);
  const query: FlowQuery = {};
  const text = (name: string) => values.get(name);
  // Enumerations pass through as text: the store's normalizeFlowQuery owns the allowed values.
  if (text('host') !== undefined) query.host = text('host');
  if (text('component') !== undefined) query.component = text('component');
  if (text('verdict') !== undefined) query.verdict = text('verdict') as FlowQuery['verdict'];
  if (text('path') !== undefined) query.expectedPath = text('path');
  if (text('egress') !== undefined) query.egressPath = text('egress') as FlowQuery['egressPath'];
  if (text('outcome') !== undefined) query.outcome = text('outcome') as FlowQuery['outcome'];
  if (text('gateway') !== undefined) query.gateway = text('gateway');
  const from = text('from');
  if (from !== undefined) query.from = parseTime('from', from, now);
  const to = text('to');
  if (to !== undefined) query.to = parseTime('to', to, now);
  const limit = text('limit');
  if (limit !== undefined) query.limit = parseCount('limit', limit);
  const cursor = text('cursor');
  if (cursor !== undefined) query.cursor = cursor;
  const offset = text('offset');
  if (offset !== undefined) query.offset = parseCount('offset', offset);
  return query;
}

/** GET /api/stats */
export function statsRangeFromUrl(url: URL, now: number): StatsRange {
  const values = readParameters(url, ['from', 'to', 'bucket', 'gateway']);
  const range: StatsRange = {};
  const gateway = values.get('gateway');
  if (gateway !== undefined) range.gateway = gateway;
  const from = values.get('from');
  if (from !== undefined) range.from = parseTime('from', from, now);
  const to = values.get('to');
  if (to !== undefined) range.to = parseTime('to', to, now);
  const bucket = values.get('bucket');
  if (bucket !== undefined) range.bucketMs = parseDuration('bucket', bucket);
  return range;
}

/** GET /api/explain */
export function explainFromUrl(url: URL): { target: string; component: Component | undefined } {
  const values = readParameters(url, ['target', 'component']);
  const target = values.get('target');
  if (target === undefined)
    throw new ParameterError('target', 'target is required: a URL, host name or IP address');
  if (target.length > 2048) throw new ParameterError('target', 'target is longer than 2048 characters');
  const component = values.get('component');
  if (component !== undefined && !(components as readonly string[]).includes(component)) {
    throw new ParameterError(
      'component',
      `component must be one of ${components.join(', ')}; got ${JSON.stringify(component)}`,
      'PW_ERR_COMPONENT_INVALID',
    );
  }
  return { target, component: component as Component | undefined };
}

/** GET /healthz: `require=expressroute[,internet]` names the paths whose outage makes it 503. */
export function healthRequirementFromUrl(url: URL): EgressPath[] {
  const values = readParameters(url, ['require']);
  const text = values.get('require');
  if (text === undefined) return [];
  const paths = text.split(',');
  for (const path of paths) {
    if (!(egressPaths as readonly string[]).includes(path)) {
      throw new ParameterError(
        'require',
        `require must list paths out of ${egressPaths.join(', ')}; got ${JSON.stringify(path)}`,
      );
    }
  }
  return paths as EgressPath[];
}
