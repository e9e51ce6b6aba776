// Flows: every stored record, searchable and paged; the filtering and paging run in the store
// (/api/flows), so the page stays fast with millions of records. The page URL uses the admin API's
// parameter names, so a filtered view maps one to one onto its API call.
import type { FlowPage, StatsResponse } from '../api/types.js';
import { ErrorNote } from '../components/error-note.js';
import { FlowFilterForm, type FlowFilters, filtersFromParams } from '../components/flow-filters.js';
import { FlowTable } from '../components/flow-table.js';
import { Pager } from '../components/pager.js';
import { useApi } from '../hooks/use-api.js';
import { TOTALS_BUCKET } from '../hooks/use-overview-stats.js';
import { href, navigate } from '../router.js';

function toParams(filters: FlowFilters, offset: number, open?: number) {
  return {
    host: filters.host,
    component: filters.component,
    verdict: filters.verdict,
    path: filters.path,
    egress: filters.egress,
    outcome: filters.outcome,
    gateway: filters.gateway,
    from: filters.from,
    to: filters.to,
    limit: filters.limit === 50 ? undefined : filters.limit,
    offset: offset === 0 ? undefined : offset,
    open,
  };
}

export function FlowsPage({ params }: { params: URLSearchParams }) {
  const filters = filtersFromParams(params);
  const offset = Math.max(0, Number(params.get('offset')) || 0);
  const openText = params.get('open');
  const openId = openText === null ? undefined : Number(openText);
  const { open: _open, ...query } = toParams(filters, offset);
  const { data, error, loading } = useApi<FlowPage>('/api/flows', { ...query, limit: filters.limit });
  // The store's writers, for the gateway field: one aggregate with a single bucket (no series needed).
  const fleet = useApi<StatsResponse>('/api/stats', { bucket: TOTALS_BUCKET });
  const gateways = fleet.data ? Object.keys(fleet.data.byGateway) : [];

  return (
    <>
      <div class="page-head">
        <h1 tabIndex={-1}>Flows</h1>
      </div>
      <FlowFilterForm
        filters={filters}
        gateways={gateways}
        onApply={(next) => navigate('flows', toParams(next, 0))}
      />
      <ErrorNote error={error} what="the flows" />
      <section aria-labelledby="results-title" aria-busy={loading}>
        <h2 id="results-title" class="visually-hidden">
          Matching flows
        </h2>
        {data && (
          <>
            <Pager
              label="Flow pages"
              total={data.total}
              offset={data.offset}
              limit={filters.limit}
              shown={data.flows.length}
              hrefFor={(next) => href('flows', toParams(filters, next))}
            />
            <FlowTable
              flows={data.flows}
              label="Matching flows"
              openId={Number.isFinite(openId) ? openId : undefined}
            />
          </>
        )}
      </section>
    </>
  );
}
