// The server's types, imported (never copied) so the page reads exactly what the API writes.

export type {
  CatalogView,
  DashboardStatus,
  ExceptionGroup,
  ExceptionsView,
  FlowSummary,
  HealthEvent,
  TickEvent,
} from '../../admin/dashboard/types.js';
export type { Rule, RulePath, SourceDocument } from '../../catalog/model.js';
export type { FlowRecord } from '../../flow/record.js';
export type { PathHealth } from '../../gateway/contracts.js';
export type { Decision } from '../../policy/policy.js';
export type { FlowPage, FlowQuery, FlowStats, StoredFlow } from '../../store/store.js';
