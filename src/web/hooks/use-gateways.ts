// The store's writers (gateway ids, `audit:<id>`) with their totals, for the gateway fields of the
// Flows, Exceptions and Leaks pages: one statistics call with a single bucket (no series needed),
// which the store answers from its rollup.
import type { FlowStats, StatsResponse } from '../api/types.js';
import { useApi } from './use-api.js';
import { TOTALS_BUCKET } from './use-overview-stats.js';

export function useGateways(): FlowStats['byGateway'] | undefined {
  return useApi<StatsResponse>('/api/stats', { bucket: TOTALS_BUCKET }).data?.byGateway;
}
