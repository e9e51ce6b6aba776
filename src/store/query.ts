// Flow queries and statistics requests, checked once and turned into a store-neutral form: a list of
// conditions the DuckDB store compiles to SQL and the JSONL store evaluates in memory, and the rules
// for time buckets and result assembly both share.
import { PathwardenError } from '../errors.js';
import type { FlowOutcome } from '../flow/record.js';
import { components, egressPaths, expectedPaths, flowOutcomes, verdicts } from '../flow/vocabulary.js';
import { type ColumnValue, flowColumns, flowPathOf, flowTimeOf, noneKey } from './columns.js';
import type { FlowGroup, FlowPage, FlowQuery, FlowStats, StatsRange, StoredFlow } from './store.js';

export const defaultPageSize = 100;
export const maxPageSize = 1000;
/** The most time buckets one statistics answer may hold (per path). */
export const maxBuckets = 10_000;
/** Automatic buckets aim at no more than this many points per path. */
export const targetBuckets = 240;
export const minBucketMs = 1000;

/** `verdict=blocked` selects what the gateway refused or failed, whatever the catalog said. */
export const blockedOutcomes: readonly FlowOutcome[] = ['blocked', 'denied', 'error'];

/** Which field of a query or statistics request was wrong, for callers that report it (the admin API). */
export type QueryField = keyof FlowQuery | 'bucketMs' | 'series';

export class FlowQueryError extends PathwardenError {
  readonly field: QueryField;

  constructor(field: QueryField, message: string) {
    super('PW_ERR_QUERY_INVALID', message);
    this.field = field;
  }
}

/** Column names a condition may test; the JS side reads them through `flowColumns`. */
type ColumnName =
  | 'host'
  | 'sni'
  | 'destination'
  | 'component'
  | 'verdict'
  | 'expected_path'
  | 'egress_path'
  | 'outcome'
  | 'gateway';

export type FlowCondition =
  /** Case-insensitive substring of any of the columns; `text` is lower-case. */
  | { kind: 'contains'; columns: readonly ColumnName[]; text: string }
  | { kind: 'in'; column: ColumnName; values: readonly string[] }
  /** The flow's time (`time_ms`) within [from, to). */
  | { kind: 'time'; from: number | undefined; to: number | undefined };

export interface NormalizedFlowQuery {
  conditions: FlowCondition[];
  limit: number;
  offset: number;
  /** Keyset paging: only flows after this position in newest-first order (the decoded `cursor`). */
  after: FlowPosition | undefined;
}

/**
 * A flow's place in newest-first order: its time (null sorts last), then id, then gateway (ids are
 * per gateway in a shared ClickHouse store). A cursor is this position of a page's last flow.
 */
export interface FlowPosition {
  time: number | null;
  id: number;
  gateway: string;
}

export interface NormalizedStatsRange {
  conditions: FlowCondition[];
  from: number | undefined;
  to: number | undefined;
  /** Given by the caller, or undefined to choose from the range of the data. */
  bucketMs: number | undefined;
  /** False: the caller wants no time series (`series.points` stays empty). */
  series: boolean;
}

function oneOf<T extends string>(field: QueryField, value: unknown, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new FlowQueryError(
      field,
      `${field} must be one of ${allowed.join(', ')}; got ${JSON.stringify(value)}`,
    );
  }
  return value as T;
}

function integer(field: QueryField, value: unknown, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new FlowQueryError(
      field,
      `${field} must be an integer from ${min} to ${max}; got ${String(value)}`,
    );
  }
  return value;
}

function timeRange(from: unknown, to: unknown): FlowCondition | undefined {
  const start = integer('from', from, 0, Number.MAX_SAFE_INTEGER);
  const end = integer('to', to, 0, Number.MAX_SAFE_INTEGER);
  if (start !== undefined && end !== undefined && start >= end) {
    throw new FlowQueryError('to', `to (${end}) must be later than from (${start})`);
  }
  return start === undefined && end === undefined ? undefined : { kind: 'time', from: start, to: end };
}

function gatewayCondition(gateway: unknown): FlowCondition | undefined {
  if (gateway === undefined) return undefined;
  if (typeof gateway !== 'string' || gateway.length > 255) {
    throw new FlowQueryError('gateway', 'gateway must be a text of at most 255 characters');
  }
  return { kind: 'in', column: 'gateway', values: [gateway] };
}

/** Checks a query and applies defaults; throws FlowQueryError (PW_ERR_QUERY_INVALID) naming the field. */
export function normalizeFlowQuery(query: FlowQuery): NormalizedFlowQuery {
  const conditions: FlowCondition[] = [];
  if (query.host !== undefined) {
    if (typeof query.host !== 'string' || query.host.length === 0 || query.host.length > 255) {
      throw new FlowQueryError('host', 'host must be a non-empty text of at most 255 characters');
    }
    conditions.push({
      kind: 'contains',
      columns: ['host', 'sni', 'destination'],
      text: query.host.toLowerCase(),
    });
  }
  const component = oneOf('component', query.component, components);
  if (component) conditions.push({ kind: 'in', column: 'component', values: [component] });
  const verdict = oneOf('verdict', query.verdict, [...verdicts, 'blocked'] as const);
  if (verdict === 'blocked') conditions.push({ kind: 'in', column: 'outcome', values: blockedOutcomes });
  else if (verdict) conditions.push({ kind: 'in', column: 'verdict', values: [verdict] });
  const expectedPath = oneOf('expectedPath', query.expectedPath, expectedPaths);
  if (expectedPath) conditions.push({ kind: 'in', column: 'expected_path', values: [expectedPath] });
  const egressPath = oneOf('egressPath', query.egressPath, egressPaths);
  if (egressPath) conditions.push({ kind: 'in', column: 'egress_path', values: [egressPath] });
  const outcome = oneOf('outcome', query.outcome, flowOutcomes);
  if (outcome) conditions.push({ kind: 'in', column: 'outcome', values: [outcome] });
  const gateway = gatewayCondition(query.gateway);
  if (gateway) conditions.push(gateway);
  const time = timeRange(query.from, query.to);
  if (time) conditions.push(time);
  const offset = integer('offset', query.offset, 0, Number.MAX_SAFE_INTEGER) ?? 0;
  const after = decodeCursor(query.cursor);
  if (after !== undefined && offset !== 0) {
    throw new FlowQueryError(
      'cursor',
      'cursor and offset cannot be combined: a cursor already says where the page starts',
    );
  }
  return {
    conditions,
    limit: integer('limit', query.limit, 0, maxPageSize) ?? defaultPageSize,
    offset,
    after,
  };
}

/** The cursor of a flow: base64url of its position, opaque to clients (docs/gateway-api.md). */
export function cursorOf(flow: Pick<StoredFlow, 'start' | 'end' | 'id' | 'gateway'>): string {
  return Buffer.from(JSON.stringify([flowTimeOf(flow), flow.id, flow.gateway])).toString('base64url');
}

/** Reads a cursor back; anything that is not one this code wrote is a FlowQueryError naming `cursor`. */
export function decodeCursor(cursor: unknown): FlowPosition | undefined {
  if (cursor === undefined) return undefined;
  const invalid = () =>
    new FlowQueryError('cursor', 'cursor must be the `next` value of an earlier page, unchanged');
  if (typeof cursor !== 'string' || cursor.length > 1024 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(parsed) || parsed.length !== 3) throw invalid();
  const [time, id, gateway] = parsed as unknown[];
  const safe = (value: unknown) => typeof value === 'number' && Number.isSafeInteger(value);
  if (!(time === null || safe(time)) || !safe(id) || (id as number) < 0 || typeof gateway !== 'string') {
    throw invalid();
  }
  return { time: time as number | null, id: id as number, gateway };
}

/** Whether a flow comes after `position` in newest-first order (the JSONL store's keyset test). */
export function isAfter(flow: StoredFlow, position: FlowPosition): boolean {
  return comparePositions(positionOf(flow), position) > 0;
}

function positionOf(flow: StoredFlow): FlowPosition {
  return { time: flowTimeOf(flow), id: flow.id, gateway: flow.gateway };
}

/** Negative when `a` comes first newest-first: later time, nulls last, then higher id, then gateway. */
function comparePositions(a: FlowPosition, b: FlowPosition): number {
  if (a.time !== b.time) {
    if (a.time === null) return 1;
    if (b.time === null) return -1;
    return b.time - a.time;
  }
  if (a.id !== b.id) return b.id - a.id;
  return a.gateway === b.gateway ? 0 : a.gateway < b.gateway ? 1 : -1;
}

/**
 * A page from up to `limit + 1` rows in newest-first order (stores read one row more than they
 * return, to know whether another page follows): the flows and the cursor of the next page.
 */
export function pageOf(rows: StoredFlow[], query: NormalizedFlowQuery, total: number): FlowPage {
  const flows = rows.slice(0, query.limit);
  const last = flows.at(-1);
  return {
    total,
    offset: query.offset,
    limit: query.limit,
    flows,
    next: rows.length > query.limit && last !== undefined ? cursorOf(last) : null,
  };
}

/** Checks a statistics request; the bucket count is checked again once the data's range is known. */
export function normalizeStatsRange(range: StatsRange = {}): NormalizedStatsRange {
  const time = timeRange(range.from, range.to);
  const gateway = gatewayCondition(range.gateway);
  const bucketMs = integer('bucketMs', range.bucketMs, minBucketMs, Number.MAX_SAFE_INTEGER);
  if (bucketMs !== undefined && range.from !== undefined && range.to !== undefined) {
    checkBucketCount(range.from, range.to, bucketMs);
  }
  const conditions = [gateway, time].filter((condition) => condition !== undefined);
  if (range.series !== undefined && typeof range.series !== 'boolean') {
    throw new FlowQueryError('series', 'series must be true or false');
  }
  return { conditions, from: range.from, to: range.to, bucketMs, series: range.series ?? true };
}

function checkBucketCount(from: number, to: number, bucketMs: number): void {
  const buckets = Math.floor((to - 1) / bucketMs) - Math.floor(from / bucketMs) + 1;
  if (buckets > maxBuckets) {
    throw new FlowQueryError(
      'bucketMs',
      `a bucket of ${bucketMs} ms splits the range into ${buckets} buckets; at most ${maxBuckets} are allowed`,
    );
  }
}

// Round steps a person reads easily on a time axis.
const bucketSteps = [
  1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800,
].map((seconds) => seconds * 1000);

/**
 * The bucket for a time range: the caller's, or the smallest round step that keeps the series at
 * no more than `targetBuckets` points. `first`/`last` are the range's (or the data's) first and last
 * times; throws when a caller's bucket would make more than `maxBuckets`.
 */
export function chooseBucketMs(
  requested: number | undefined,
  first: number | null,
  last: number | null,
): number {
  if (first === null || last === null) return requested ?? 60_000;
  if (requested !== undefined) {
    checkBucketCount(first, last + 1, requested);
    return requested;
  }
  const span = last - first + 1;
  for (const step of bucketSteps) if (span / step <= targetBuckets) return step;
  const day = 86_400_000;
  return Math.ceil(span / targetBuckets / day) * day;
}

/** Bucket start of a time, aligned to multiples of the bucket since the epoch. */
export function bucketStart(time: number, bucketMs: number): number {
  return Math.floor(time / bucketMs) * bucketMs;
}

// --- evaluation in memory (the JSONL store) ---

const columnIndex = new Map(flowColumns.map((column, index) => [column.name, index]));

function valueAt(values: readonly ColumnValue[], column: ColumnName): ColumnValue {
  return values[columnIndex.get(column) as number] ?? null;
}

/** A predicate over column values (`flowColumns` order) equivalent to the SQL the DuckDB store runs. */
export function conditionsPredicate(
  conditions: readonly FlowCondition[],
): (values: readonly ColumnValue[]) => boolean {
  const timeIndex = columnIndex.get('time_ms') as number;
  const tests = conditions.map((condition) => conditionTest(condition, timeIndex));
  return (values) => tests.every((test) => test(values));
}

function conditionTest(
  condition: FlowCondition,
  timeIndex: number,
): (values: readonly ColumnValue[]) => boolean {
  if (condition.kind === 'contains') {
    return (values) =>
      condition.columns.some((column) => {
        const value = valueAt(values, column);
        return typeof value === 'string' && value.toLowerCase().includes(condition.text);
      });
  }
  if (condition.kind === 'in') {
    return (values) => {
      const value = valueAt(values, condition.column);
      return typeof value === 'string' && condition.values.includes(value);
    };
  }
  return (values) => {
    const time = values[timeIndex];
    if (typeof time !== 'number') return false;
    return (
      (condition.from === undefined || time >= condition.from) &&
      (condition.to === undefined || time < condition.to)
    );
  };
}

/** Newest first: by flow time (flows without a time last), then by id, then gateway (`newestFirstSql`). */
export function newestFirst(a: StoredFlow, b: StoredFlow): number {
  return comparePositions(positionOf(a), positionOf(b));
}
export const newestFirstSql = 'time_ms DESC NULLS LAST, id DESC, gateway DESC';

// --- statistics assembly (both stores) ---

function addTo(
  totals: Record<string, { flows: number; bytesUp: number; bytesDown: number }>,
  key: string,
  flows: number,
  bytesUp: number,
  bytesDown: number,
): void {
  const entry = totals[key] ?? { flows: 0, bytesUp: 0, bytesDown: 0 };
  entry.flows += flows;
  entry.bytesUp += bytesUp;
  entry.bytesDown += bytesDown;
  totals[key] = entry;
}

/** Collects counts into a FlowStats; the JSONL store feeds it flows, the DuckDB store SQL groups. */
export class FlowStatsBuilder {
  readonly #stats: FlowStats;
  readonly #points = new Map<string, { t: number; path: string; flows: number; bytes: number }>();
  readonly #series: boolean;

  /** `series` false leaves the time series empty (addPoint does nothing). */
  constructor(bucketMs: number, series = true) {
    this.#series = series;
    this.#stats = {
      flows: 0,
      bytesUp: 0,
      bytesDown: 0,
      byVerdict: {},
      byEgressPath: {},
      byOutcome: {},
      byGateway: {},
      series: { bucketMs, points: [] },
    };
  }

  get bucketMs(): number {
    return this.#stats.series.bucketMs;
  }

  addFlow(flow: StoredFlow): void {
    const up = flow.bytesUp ?? 0;
    const down = flow.bytesDown ?? 0;
    const path = flowPathOf(flow);
    this.addTotals(1, up, down);
    this.addVerdict(flow.verdict ?? noneKey, 1);
    this.addOutcome(flow.outcome ?? noneKey, 1);
    this.addPath(path, 1, up, down);
    this.addGateway(flow.gateway, 1, up, down);
    const time = flowTimeOf(flow);
    if (time !== null) this.addPoint(bucketStart(time, this.bucketMs), path, 1, up + down);
  }

  addTotals(flows: number, bytesUp: number, bytesDown: number): void {
    this.#stats.flows += flows;
    this.#stats.bytesUp += bytesUp;
    this.#stats.bytesDown += bytesDown;
  }

  addVerdict(verdict: string, flows: number): void {
    this.#stats.byVerdict[verdict] = (this.#stats.byVerdict[verdict] ?? 0) + flows;
  }

  addOutcome(outcome: string, flows: number): void {
    this.#stats.byOutcome[outcome] = (this.#stats.byOutcome[outcome] ?? 0) + flows;
  }

  addPath(path: string, flows: number, bytesUp: number, bytesDown: number): void {
    addTo(this.#stats.byEgressPath, path, flows, bytesUp, bytesDown);
  }

  addGateway(gateway: string, flows: number, bytesUp: number, bytesDown: number): void {
    addTo(this.#stats.byGateway, gateway, flows, bytesUp, bytesDown);
  }

  addPoint(t: number, path: string, flows: number, bytes: number): void {
    if (!this.#series) return;
    const key = `${t}/${path}`;
    const point = this.#points.get(key);
    if (point) {
      point.flows += flows;
      point.bytes += bytes;
    } else {
      this.#points.set(key, { t, path, flows, bytes });
    }
  }

  build(): FlowStats {
    const points = [...this.#points.values()].sort((a, b) => a.t - b.t || (a.path < b.path ? -1 : 1));
    return { ...this.#stats, series: { bucketMs: this.bucketMs, points } };
  }
}

// --- groups per rule and destination (both stores) ---

/** The name a flow is grouped under: requested host, else SNI, else destination address. */
export function groupNameOf(flow: Pick<StoredFlow, 'host' | 'sni' | 'destination'>): string | null {
  return flow.host ?? flow.sni ?? flow.destination;
}
export const groupNameSql = 'coalesce(host, sni, destination)';

/** Most flows first, then by rule id and name, so both stores list groups in the same order. */
export function sortFlowGroups(groups: FlowGroup[]): FlowGroup[] {
  const text = (value: string | null) => value ?? '';
  return groups.sort(
    (a, b) =>
      b.flows - a.flows ||
      text(a.ruleId).localeCompare(text(b.ruleId)) ||
      text(a.host).localeCompare(text(b.host)),
  );
}

/**
 * Groups flows in memory, one at a time (the JSONL store, and callers that page through a store
 * without `groups()`); the DuckDB store runs the same grouping as SQL.
 */
export class FlowGrouper {
  readonly #groups = new Map<string, FlowGroup>();

  add(
    flow: Pick<StoredFlow, 'ruleId' | 'host' | 'sni' | 'destination' | 'bytesUp' | 'bytesDown' | 'start'>,
  ): void {
    const ruleId = flow.ruleId ?? null;
    const host = groupNameOf(flow);
    const key = JSON.stringify([ruleId, host]);
    let group = this.#groups.get(key);
    if (group === undefined) {
      group = { ruleId, host, flows: 0, bytesUp: 0, bytesDown: 0, lastSeen: null };
      this.#groups.set(key, group);
    }
    group.flows++;
    group.bytesUp += flow.bytesUp ?? 0;
    group.bytesDown += flow.bytesDown ?? 0;
    if (flow.start !== null && (group.lastSeen === null || flow.start > group.lastSeen))
      group.lastSeen = flow.start;
  }

  /** The groups so far, most flows first. */
  groups(): FlowGroup[] {
    return sortFlowGroups([...this.#groups.values()]);
  }
}

export function groupFlows(flows: Iterable<StoredFlow>): FlowGroup[] {
  const grouper = new FlowGrouper();
  for (const flow of flows) grouper.add(flow);
  return grouper.groups();
}

// --- SQL (the DuckDB and ClickHouse stores) ---

/** How one SQL engine spells what the conditions need. */
export interface SqlDialect {
  /** A value in the statement: a bound parameter or an escaped literal. */
  value(value: string | number): string;
  /** `column` contains `text` (a value() already), case-insensitively; false for NULL. */
  contains(column: ColumnName, text: string): string;
  /** Extra bounds a time range adds (ClickHouse: its whole-second sort key), beside `time_ms`'s. */
  timeBounds?(from: number | undefined, to: number | undefined): string[];
}

/**
 * The keyset condition: rows after `position` in newest-first order (`newestFirstSql`), spelled
 * without tuple comparison (ClickHouse 18.16 has none).
 */
export function afterSql(position: FlowPosition, dialect: SqlDialect): string {
  const id = dialect.value(position.id);
  const gateway = dialect.value(position.gateway);
  const sameTimeAfter = `(id < ${id} OR (id = ${id} AND gateway < ${gateway}))`;
  if (position.time === null) return `(time_ms IS NULL AND ${sameTimeAfter})`;
  const time = dialect.value(position.time);
  return `(time_ms < ${time} OR time_ms IS NULL OR (time_ms = ${time} AND ${sameTimeAfter}))`;
}

/** The WHERE clause of the conditions in a dialect ('' when there are none); `extra` is ANDed SQL. */
export function whereSql(
  conditions: readonly FlowCondition[],
  dialect: SqlDialect,
  extra: readonly string[] = [],
): string {
  const parts = conditions.map((condition) => {
    if (condition.kind === 'contains') {
      const text = dialect.value(condition.text);
      return `(${condition.columns.map((column) => dialect.contains(column, text)).join(' OR ')})`;
    }
    if (condition.kind === 'in') {
      return `${condition.column} IN (${condition.values.map((value) => dialect.value(value)).join(', ')})`;
    }
    const bounds: string[] = [];
    if (condition.from !== undefined) bounds.push(`time_ms >= ${dialect.value(condition.from)}`);
    if (condition.to !== undefined) bounds.push(`time_ms < ${dialect.value(condition.to)}`);
    bounds.push(...(dialect.timeBounds?.(condition.from, condition.to) ?? []));
    return bounds.join(' AND ');
  });
  parts.push(...extra);
  return parts.length === 0 ? '' : ` WHERE ${parts.join(' AND ')}`;
}
