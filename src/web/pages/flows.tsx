// Flows: every stored record, searchable and paged; the filtering and paging run in the store
// (/api/flows, paged by cursor), so the page stays fast with millions of records, deep pages too. The page URL uses the admin API's
// parameter names, so a filtered view maps one to one onto its API call.
import type { FlowPage } from '../api/types.js';
import { ErrorNote } from '../components/error-note.js';
import { FlowFilterForm, type FlowFilters, filtersFromParams } from '../components/flow-filters.js';
import { FlowTable } from '../components/flow-table.js';
import { Pager } from '../components/pager.js';
import { useApi, useSettled } from '../hooks/use-api.js';
import { useGateways } from '../hooks/use-gateways.js';
import { type CursorTrail, firstPage, trailFromParams, trailParams } from '../paging.js';
import { href, navigate } from '../router.js';

/** The filters as URL and API parameters (the API's names). */
function filterParams(filters: FlowFilters) {
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
  };
}

/** The page's own URL: the filters, the page size when not the default, and where the pager stands. */
function toParams(filters: FlowFilters, trail: CursorTrail) {
  return {
    ...filterParams(filters),
    limit: filters.limit === 50 ? undefined : filters.limit,
    ...trailParams(trail),
  };
}

export function FlowsPage({ params }: { params: URLSearchParams }) {
  const filters = filtersFromParams(params);
  const trail = trailFromParams(params);
  const openText = params.get('open');
  const openId = openText === null ? undefined : Number(openText);
  const { data, error, loading, stale } = useApi<FlowPage>('/api/flows', {
    ...filterParams(filters),
    limit: filters.limit,
    cursor: trail.cursor,
  });
  // The pager describes the rows on screen, so it moves when they do.
  const shown = useSettled({ filters, trail }, stale);
  const byGateway = useGateways();
  const gateways = byGateway ? Object.keys(byGateway) : [];

  return (
    <>
      <div class="page-head">
        <h1 tabIndex={-1}>Flows</h1>
      </div>
      <FlowFilterForm
        filters={filters}
        gateways={gateways}
        onApply={(next) => navigate('flows', toParams(next, firstPage))}
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
              limit={shown.filters.limit}
              shown={data.flows.length}
              trail={shown.trail}
              next={data.next}
              hrefFor={(next) => href('flows', toParams(shown.filters, next))}
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
