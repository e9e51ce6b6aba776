// The JSON shapes of the dashboard's own endpoints (beside the admin API's /api/flows, /api/stats,
// /api/explain). The SPA imports these types, so server and page cannot drift apart.
import type { Catalog, RulePath } from '../../catalog/model.js';
import type { PathHealth } from '../../gateway/contracts.js';
import type { StoredFlow } from '../../store/store.js';

/** GET /api/status: what the page needs to frame everything else. */
export interface DashboardStatus {
  /** `gateway`: live traffic; `stored`: a flow database or an audit's NDJSON, read-only. */
  mode: 'gateway' | 'stored';
  store: string;
  health: PathHealth[];
  activeTunnels: number;
  catalog: { name: string; version: string; title: string | null };
  serverTime: number;
}

/** GET /api/catalog: the rules with their sources. */
export type CatalogView = Pick<
  Catalog,
  'name' | 'version' | 'title' | 'description' | 'sources' | 'notes' | 'rules'
>;

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

/** GET /api/exceptions[?from&to]. */
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
