// Overview: is the circuit up, how much rides each path, what the verdicts are, live.
import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import type { DashboardStatus, FlowStats, FlowSummary } from '../api/types.js';
import { PathLabel, VerdictBadge } from '../components/badges.js';
import { ErrorNote } from '../components/error-note.js';
import { GatewaySelect } from '../components/gateway-select.js';
import { HealthPanel } from '../components/health-panel.js';
import { PathCharts } from '../components/path-charts.js';
import { TableScroll } from '../components/table-scroll.js';
import { formatBytes, formatCount, formatTime } from '../format.js';
import { useHealth, useLiveVersion, useTick } from '../hooks/use-live.js';
import { type RangeKey, ranges, useOverviewStats } from '../hooks/use-overview-stats.js';
import { pathNames, verdictHelp, verdictNames, verdictOrder } from '../labels.js';
import { href } from '../router.js';

/** Marked once per page load: the benchmark reads it as "time to first render of the overview". */
const FIRST_RENDER_MARK = 'pathwarden:overview-chart';

export function OverviewPage({
  status,
  params,
}: {
  status: DashboardStatus | undefined;
  params: URLSearchParams;
}) {
  const gateway = params.get('gateway') ?? '';
  const live = status?.mode === 'gateway';
  const [range, setRange] = useState<RangeKey>(live ? '1h' : 'all');
  const chosen = useRef(false);
  useEffect(() => {
    // The default follows the mode once it is known, unless the user already picked a range.
    if (!chosen.current && status) setRange(status.mode === 'gateway' ? '1h' : 'all');
  }, [status]);
  const version = useLiveVersion();
  const { data, error, loading } = useOverviewStats(range, gateway, version);
  const health = useHealth()?.health ?? status?.health;
  const tick = useTick();
  const markFirstDraw = useCallback(() => {
    if (performance.getEntriesByName(FIRST_RENDER_MARK).length === 0) performance.mark(FIRST_RENDER_MARK);
  }, []);

  return (
    <>
      <div class="page-head">
        <h1 tabIndex={-1}>Overview</h1>
        <div class="field inline">
          <label for="range">Time range</label>
          <select
            id="range"
            value={range}
            onChange={(event) => {
              chosen.current = true;
              setRange((event.currentTarget as HTMLSelectElement).value as RangeKey);
            }}
          >
            {Object.entries(ranges).map(([key, value]) => (
              <option key={key} value={key}>
                {value.label}
              </option>
            ))}
          </select>
        </div>
        {data && <GatewaySelect page="overview" gateway={gateway} byGateway={data.byGateway} />}
      </div>
      <ErrorNote error={error} what="the flow statistics" />
      <section aria-labelledby="totals-title">
        <h2 id="totals-title" class="visually-hidden">
          Totals
        </h2>
        <Totals
          stats={data?.stats}
          live={live}
          activeTunnels={tick?.activeTunnels ?? status?.activeTunnels}
        />
      </section>
      <section aria-labelledby="health-title" class="card">
        <h2 id="health-title">Path health</h2>
        <HealthPanel health={health} live={live} />
      </section>
      <section aria-labelledby="traffic-title" aria-busy={loading}>
        <h2 id="traffic-title">Traffic per path</h2>
        {data && <PathCharts series={data.stats.series} onFirstDraw={markFirstDraw} />}
      </section>
      <div class="two-columns">
        <section aria-labelledby="verdicts-title" class="card">
          <h2 id="verdicts-title">Verdicts</h2>
          {data && <VerdictCounts stats={data.stats} from={data.from} to={data.to} gateway={gateway} />}
        </section>
        <section aria-labelledby="paths-title" class="card">
          <h2 id="paths-title">By path</h2>
          {data && <PathTotals stats={data.stats} />}
        </section>
      </div>
      {data && Object.keys(data.byGateway).length > 1 && (
        <section aria-labelledby="gateways-title" class="card">
          <h2 id="gateways-title">By gateway</h2>
          <GatewayTotals byGateway={data.byGateway} chosen={gateway} from={data.from} to={data.to} />
        </section>
      )}
      {live && <RecentFlows latest={tick?.latest} />}
    </>
  );
}

function Totals({
  stats,
  live,
  activeTunnels,
}: {
  stats: FlowStats | undefined;
  live: boolean;
  activeTunnels: number | undefined;
}) {
  return (
    <dl class="totals">
      <div class="card stat">
        <dt>Flows</dt>
        <dd data-testid="total-flows">{formatCount(stats?.flows)}</dd>
      </div>
      <div class="card stat">
        <dt>Bytes up</dt>
        <dd data-testid="total-bytes-up" title={stats ? `${stats.bytesUp} bytes` : undefined}>
          {formatBytes(stats?.bytesUp)}
        </dd>
      </div>
      <div class="card stat">
        <dt>Bytes down</dt>
        <dd data-testid="total-bytes-down" title={stats ? `${stats.bytesDown} bytes` : undefined}>
          {formatBytes(stats?.bytesDown)}
        </dd>
      </div>
      <div class="card stat">
        <dt>Active tunnels</dt>
        <dd data-testid="active-tunnels">{live ? formatCount(activeTunnels) : '–'}</dd>
      </div>
    </dl>
  );
}

function VerdictCounts({
  stats,
  from,
  to,
  gateway,
}: {
  stats: FlowStats;
  from: number | undefined;
  to: number | undefined;
  gateway: string;
}) {
  const blocked = stats.byOutcome.blocked ?? 0;
  const extra = Object.keys(stats.byVerdict).filter((v) => !(verdictOrder as readonly string[]).includes(v));
  const rows = [...verdictOrder, ...extra].map(
    (verdict) => [verdict, stats.byVerdict[verdict] ?? 0] as const,
  );
  return (
    <ul class="verdict-counts">
      {rows.map(([verdict, count]) => (
        <li key={verdict} data-verdict={verdict}>
          <a
            href={href('flows', { verdict, from, to, gateway })}
            aria-label={`${count} flows with verdict ${verdictNames[verdict] ?? verdict}: ${verdictHelp[verdict] ?? ''}`}
          >
            <VerdictBadge verdict={verdict} />
            <span class="count" data-testid={`verdict-${verdict}`}>
              {formatCount(count)}
            </span>
          </a>
        </li>
      ))}
      <li data-verdict="blocked">
        <a href={href('leaks')} aria-label={`${blocked} blocked flows: ${verdictHelp.blocked}`}>
          <VerdictBadge verdict="blocked" />
          <span class="count" data-testid="verdict-blocked">
            {formatCount(blocked)}
          </span>
        </a>
      </li>
    </ul>
  );
}

/** A table of flows, bytes up and bytes down per `first` (a path, a gateway); rows are the children. */
function TotalsTable({
  label,
  first,
  children,
}: {
  label: string;
  first: string;
  children: ComponentChildren;
}) {
  return (
    <TableScroll label={label}>
      <table>
        <thead>
          <tr>
            <th scope="col">{first}</th>
            {['Flows', 'Bytes up', 'Bytes down'].map((column) => (
              <th key={column} scope="col" class="num">
                {column}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </TableScroll>
  );
}

function PathTotals({ stats }: { stats: FlowStats }) {
  const paths = Object.entries(stats.byEgressPath);
  if (paths.length === 0) return <p class="muted">No flows in this range.</p>;
  return (
    <TotalsTable label="Flows and bytes by path" first="Path">
      {paths.map(([path, totals]) => (
        <tr key={path} data-path={path}>
          <th scope="row">
            <PathLabel path={path} />
            <span class="visually-hidden">{pathNames[path] ? '' : path}</span>
          </th>
          <td class="num" data-testid={`path-flows-${path}`}>
            {formatCount(totals.flows)}
          </td>
          <td class="num">{formatBytes(totals.bytesUp)}</td>
          <td class="num">{formatBytes(totals.bytesDown)}</td>
        </tr>
      ))}
    </TotalsTable>
  );
}

/** The name a gateway goes by on the page: records written without an `id` have ''. */
const gatewayName = (id: string) => (id === '' ? '(not named)' : id);

function GatewayTotals({
  byGateway,
  chosen,
  from,
  to,
}: {
  byGateway: FlowStats['byGateway'];
  chosen: string;
  from: number | undefined;
  to: number | undefined;
}) {
  const rows = Object.entries(byGateway).sort(([a], [b]) => a.localeCompare(b));
  return (
    <TotalsTable label="Flows and bytes by gateway" first="Gateway">
      {rows.map(([id, totals]) => (
        <tr key={id} data-gateway={id} aria-current={id === chosen && chosen !== '' ? 'true' : undefined}>
          <th scope="row">
            {id === '' ? (
              gatewayName(id)
            ) : (
              <a href={href('flows', { gateway: id, from, to })}>{gatewayName(id)}</a>
            )}
          </th>
          <td class="num" data-testid={`gateway-flows-${id}`}>
            {formatCount(totals.flows)}
          </td>
          <td class="num" title={`${totals.bytesUp} bytes`}>
            {formatBytes(totals.bytesUp)}
          </td>
          <td class="num" title={`${totals.bytesDown} bytes`}>
            {formatBytes(totals.bytesDown)}
          </td>
        </tr>
      ))}
    </TotalsTable>
  );
}

function RecentFlows({ latest }: { latest: FlowSummary[] | undefined }) {
  const [recent, setRecent] = useState<FlowSummary[]>([]);
  useEffect(() => {
    if (!latest || latest.length === 0) return;
    setRecent((previous) => {
      const seen = new Set(latest.map((flow) => flow.id));
      return [...latest, ...previous.filter((flow) => !seen.has(flow.id))].slice(0, 10);
    });
  }, [latest]);
  return (
    <section aria-labelledby="recent-title" class="card">
      <h2 id="recent-title">Latest flows</h2>
      {recent.length === 0 ? (
        <p class="muted">New flows appear here as the gateway records them.</p>
      ) : (
        <ul class="recent">
          {recent.map((flow) => (
            <li key={flow.id}>
              <span class="nowrap">{formatTime(flow.start)}</span>{' '}
              <span class="host">{flow.host ?? '–'}</span>{' '}
              <PathLabel path={flow.egressPath ?? flow.actualPath} />{' '}
              <VerdictBadge verdict={flow.outcome === 'blocked' ? 'blocked' : flow.verdict} />
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
