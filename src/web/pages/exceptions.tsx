// Exceptions: the documented exceptions actually in use, per activity and destination, each with
// the citation of the rule that allows it.
import type { ExceptionGroup, ExceptionsView } from '../api/types.js';
import { PathLabel } from '../components/badges.js';
import { Citation } from '../components/citation.js';
import { ErrorNote } from '../components/error-note.js';
import { GatewaySelect } from '../components/gateway-select.js';
import { TableScroll } from '../components/table-scroll.js';
import { formatBytes, formatCount, formatTime } from '../format.js';
import { useApi } from '../hooks/use-api.js';
import { useCatalog } from '../hooks/use-catalog.js';
import { useGateways } from '../hooks/use-gateways.js';
import { useLiveVersion } from '../hooks/use-live.js';
import { href } from '../router.js';

export function ExceptionsPage({ params }: { params: URLSearchParams }) {
  const gateway = params.get('gateway') ?? '';
  const version = useLiveVersion(5000);
  const { data, error, loading } = useApi<ExceptionsView>('/api/exceptions', { gateway }, version);
  const { catalog } = useCatalog();
  const byGateway = useGateways();
  return (
    <>
      <div class="page-head">
        <h1 tabIndex={-1}>Exceptions</h1>
        {byGateway && <GatewaySelect page="exceptions" gateway={gateway} byGateway={byGateway} />}
      </div>
      <p class="lead">
        Traffic that crossed the public Internet as a documented exception: the rule that allows it, where the
        source document says so, and the destinations it went to.
      </p>
      <ErrorNote error={error} what="the exceptions" />
      {data?.partial && (
        <p class="note" role="note">
          This store cannot group flows itself: the first{' '}
          {formatCount(data.groups.reduce((n, g) => n + g.flows, 0))} of {formatCount(data.flows)} exception
          flows are shown.
        </p>
      )}
      <div aria-busy={loading}>
        {data && data.groups.length === 0 && <p class="muted">No exception flows stored.</p>}
        {data?.groups.map((group) => (
          <ExceptionCard key={group.ruleId ?? ''} group={group} catalog={catalog} gateway={gateway} />
        ))}
      </div>
    </>
  );
}

function ExceptionCard({
  group,
  catalog,
  gateway,
}: {
  group: ExceptionGroup;
  catalog: ReturnType<typeof useCatalog>['catalog'];
  gateway: string;
}) {
  const id = `exception-${group.ruleId ?? 'none'}`;
  return (
    <section class="card exception" aria-labelledby={id} data-rule={group.ruleId ?? ''}>
      <h2 id={id}>
        {group.activity ?? 'No matching rule'} <span class="rule-id">{group.ruleId}</span>
      </h2>
      <dl class="facts">
        <div>
          <dt>Source</dt>
          <dd>
            <Citation source={group.source} catalog={catalog} />
          </dd>
        </div>
        <div>
          <dt>Rule path</dt>
          <dd>
            <PathLabel path={group.path} />
          </dd>
        </div>
        <div>
          <dt>Flows</dt>
          <dd data-testid="exception-flows">{formatCount(group.flows)}</dd>
        </div>
        <div>
          <dt>Bytes</dt>
          <dd>{formatBytes(group.bytes)}</dd>
        </div>
      </dl>
      <TableScroll label={`Destinations of ${group.activity ?? group.ruleId ?? 'this rule'}`}>
        <table>
          <thead>
            <tr>
              <th scope="col">Destination</th>
              <th scope="col" class="num">
                Flows
              </th>
              <th scope="col" class="num">
                Bytes up / down
              </th>
              <th scope="col">Last seen</th>
            </tr>
          </thead>
          <tbody>
            {group.destinations.map((destination) => (
              <tr key={destination.host}>
                <td class="host">
                  <a href={href('flows', { host: destination.host, verdict: 'exception', gateway })}>
                    {destination.host}
                  </a>
                </td>
                <td class="num">{formatCount(destination.flows)}</td>
                <td class="num nowrap">
                  {formatBytes(destination.bytesUp)} / {formatBytes(destination.bytesDown)}
                </td>
                <td class="nowrap">{formatTime(destination.lastSeen)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </TableScroll>
    </section>
  );
}
