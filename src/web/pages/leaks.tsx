// Leaks and blocked: every flow that crossed the Internet although its rule says ExpressRoute, and
// every connection the gateway refused, each with the evidence for its path.
import type { FlowPage, StoredFlow } from '../api/types.js';
import { ErrorNote } from '../components/error-note.js';
import { FlowTable } from '../components/flow-table.js';
import { GatewaySelect } from '../components/gateway-select.js';
import { Pager } from '../components/pager.js';
import { useApi, useSettled } from '../hooks/use-api.js';
import { useGateways } from '../hooks/use-gateways.js';
import { useLiveVersion } from '../hooks/use-live.js';
import { type CursorTrail, trailFromParams, trailParams } from '../paging.js';
import { href } from '../router.js';

const PAGE = 50;

/** The Flows page narrowed to this record (same host and start), with the record opened. */
function recordHref(filter: { verdict?: string; outcome?: string; gateway?: string }) {
  return (flow: StoredFlow) =>
    href('flows', {
      ...filter,
      host: flow.host ?? flow.sni ?? flow.destination,
      from: flow.start,
      to: flow.start === null ? undefined : flow.start + 1,
      open: flow.id,
    });
}

export function LeaksPage({ params }: { params: URLSearchParams }) {
  const gateway = params.get('gateway') ?? '';
  const byGateway = useGateways();
  const leakTrail = trailFromParams(params, 'leak');
  const blockedTrail = trailFromParams(params, 'blocked');
  const version = useLiveVersion();
  const pageHref = (next: { leak?: CursorTrail; blocked?: CursorTrail }) =>
    href('leaks', {
      gateway,
      ...trailParams(next.leak ?? leakTrail, 'leak'),
      ...trailParams(next.blocked ?? blockedTrail, 'blocked'),
    });

  return (
    <>
      <div class="page-head">
        <h1 tabIndex={-1}>Leaks and blocked</h1>
        {byGateway && <GatewaySelect page="leaks" gateway={gateway} byGateway={byGateway} />}
      </div>
      <FlowSection
        id="leaks"
        title="Leaks"
        intro="Traffic whose rule says it must ride the ExpressRoute circuit, seen crossing the public Internet."
        filter={{ verdict: 'leak', gateway }}
        trail={leakTrail}
        version={version}
        hrefFor={(trail) => pageHref({ leak: trail })}
      />
      <FlowSection
        id="blocked"
        title="Blocked"
        intro="Connections the gateway refused, e.g. circuit-bound traffic while the circuit was down (fail closed)."
        filter={{ outcome: 'blocked', gateway }}
        trail={blockedTrail}
        version={version}
        hrefFor={(trail) => pageHref({ blocked: trail })}
      />
    </>
  );
}

interface SectionProps {
  id: string;
  title: string;
  intro: string;
  filter: { verdict?: string; outcome?: string; gateway: string };
  trail: CursorTrail;
  version: number;
  hrefFor: (trail: CursorTrail) => string;
}

function FlowSection({ id, title, intro, filter, trail, version, hrefFor }: SectionProps) {
  const { data, error, loading, stale } = useApi<FlowPage>(
    '/api/flows',
    { ...filter, limit: PAGE, cursor: trail.cursor },
    version,
  );
  // The pager describes the rows on screen, so it moves when they do.
  const shownTrail = useSettled(trail, stale);
  return (
    <section aria-labelledby={`${id}-title`} aria-busy={loading} class="card" data-testid={`section-${id}`}>
      <h2 id={`${id}-title`}>
        {title}
        {data && <span class="count-pill">{data.total.toLocaleString('en-US')}</span>}
      </h2>
      <p class="muted">{intro}</p>
      <ErrorNote error={error} what={title.toLowerCase()} />
      {data && (
        <>
          {data.total > PAGE && (
            <Pager
              label={`${title} pages`}
              total={data.total}
              limit={PAGE}
              shown={data.flows.length}
              trail={shownTrail}
              next={data.next}
              hrefFor={hrefFor}
            />
          )}
          <FlowTable flows={data.flows} label={title} evidence recordHref={recordHref(filter)} />
        </>
      )}
    </section>
  );
}
