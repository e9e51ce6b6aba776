// The contract of the admin address's JSON endpoints (/api/*, /healthz): request parameters and
// response bodies, types only. The admin server and the dashboard routes write these shapes and the
// SPA (src/web) reads them; src/web imports nothing else from the server side (checked by
// src/architecture.test.ts), so server and page cannot drift apart. Documented in
// docs/gateway-api.md and docs/dashboard.md.
import type { Catalog, RulePath } from '../catalog/model.js';
import type { PathHealth } from '../gateway/contracts.js';
import type { Decision } from '../policy/policy.js';
import type { FlowPage, FlowQuery, FlowStats, StoredFlow } from '../store/store.js';

export type { Rule, RulePath, SourceDocument } from '../catalog/model.js';
export type { FlowRecord } from '../flow/record.js';
export type { PathHealth } from '../gateway/contracts.js';
export type { Decision } from '../policy/policy.js';
export type { FlowPage, FlowQuery, FlowStats, StoredFlow } from '../store/store.js';

/**
 * Every error answer: a stable code and a message; the admin API also names the query parameter
 * at fault (null when none is), the dashboard's own endpoints leave it out.
 */
export interface ApiErrorBody {
  error: { code: string; message: string; parameter?: string | null };
}

/** GET /healthz[?require=expressroute,internet]. */
export interface HealthzResponse {
  status: 'ok' | 'degraded' | 'unavailable';
  paths: PathHealth[];
}

/**
 * GET /api/flows: the query parameters are FlowQuery's fields (`from` / `to` also as ISO times).
 * Paging is by `cursor` (the `next` of the page before; deep pages cost what the first costs); `offset`
 * still works for older clients but grows with the offset, and the two cannot be combined.
 */
export type FlowsRequest = FlowQuery;
export type FlowsResponse = FlowPage;

/** GET /api/stats[?from&to&bucketMs]: the store's statistics and the live state of the proxy. */
export interface StatsRequest {
  from?: number;
  to?: number;
  bucketMs?: number;
  /** Only this gateway's flows (the `gateway` column); `byGateway` then holds that one. */
  gateway?: string;
}
export interface StatsResponse extends FlowStats {
  health: PathHealth[];
  activeTunnels: number;
}

/** GET /api/explain?target=...[&component=...]: decide() on the target, as `explain` prints it. */
export interface ExplainRequest {
  target: string;
  component?: string;
}
export type ExplainResponse = Decision;

/** GET /api/status: what the page needs to frame everything else. */
export interface DashboardStatus {
  /** `gateway`: live traffic; `stored`: a flow database or an audit's NDJSON, read-only. */
  mode: 'gateway' | 'stored';
  store: string;
  health: PathHealth[];
  activeTunnels: number;
  /** `profile`: the catalog profile that answers every decision (docs/model.md, "Profiles"). */
  catalog: { name: string; version: string; title: string | null; profile: string };
  serverTime: number;
}

/** GET /api/catalog: the rules (of the profile that answers) with their sources, and that profile. */
export type CatalogView = Pick<
  Catalog,
  'name' | 'version' | 'title' | 'description' | 'sources' | 'notes' | 'rules'
> & { profile: string };

/** Traffic to one destination under one rule. */
export interface ExceptionDestination {
  host: string;
  flows: number;
  bytesUp: number;
  bytesDown: number;
  /** Latest start time seen (epoch ms), null when the records carry none. */
  lastSeen: number | null;
}

/** One documented exception in use: its rule, where the source says so, and its destinations. */
export interface ExceptionGroup {
  ruleId: string | null;
  activity: string | null;
  path: RulePath | null;
  /** The rule's citation, e.g. `seed § Overall Exceptions, table row 2`. */
  source: string | null;
  flows: number;
  bytes: number;
  destinations: ExceptionDestination[];
}

/** GET /api/exceptions[?from&to&gateway]: `gateway` narrows to one writer, as on /api/flows. */
export interface ExceptionsView {
  groups: ExceptionGroup[];
  /** Exception flows in the range (as the store counts them). */
  flows: number;
  /** True when the store could not aggregate and the fallback stopped at its scan limit. */
  partial: boolean;
}

/** A few fields of a new flow, enough for a live ticker. */
export type FlowSummary = Pick<
  StoredFlow,
  'id' | 'start' | 'host' | 'component' | 'verdict' | 'egressPath' | 'actualPath' | 'outcome'
>;

/** SSE event `tick` on /api/events: totals, sent when they change (and at least every heartbeat). */
export interface TickEvent {
  t: number;
  flows: number;
  bytesUp: number;
  bytesDown: number;
  byVerdict: Record<string, number>;
  activeTunnels: number;
  /** Flows stored since the previous tick, and the newest of them (newest first, at most 10). */
  newFlows: number;
  latest: FlowSummary[];
}

/** SSE event `health` on /api/events: the paths' health, sent on connect and whenever it changes. */
export interface HealthEvent {
  t: number;
  health: PathHealth[];
}
