// Path health as the gateway's probes see it: state, since when, the last error and the recent
// changes. An ExpressRoute outage matters most: circuit-bound traffic is then refused (fail closed).
import type { PathHealth } from '../api/types.js';
import { formatAgo, formatTime } from '../format.js';
import { pathNames } from '../labels.js';

const stateWords: Record<PathHealth['state'], string> = { up: 'Up', down: 'Down', unknown: 'Not probed' };

export function HealthPanel({ health, live }: { health: PathHealth[] | undefined; live: boolean }) {
  if (!live) {
    return <p class="muted">No live health: this dashboard reads a stored flow file.</p>;
  }
  if (!health || health.length === 0) return <p class="muted">No health probes are configured.</p>;
  return (
    <ul class="health-list">
      {health.map((path) => (
        <li key={path.path} class={`health health-${path.state}`} data-path={path.path}>
          <div class="health-head">
            <span class="health-name">{pathNames[path.path] ?? path.path}</span>
            <span class={`health-state state-${path.state}`} data-testid={`health-${path.path}`}>
              <span aria-hidden="true">
                {path.state === 'up' ? '▲ ' : path.state === 'down' ? '▼ ' : '? '}
              </span>
              {stateWords[path.state]}
            </span>
          </div>
          <p class="health-since">
            since {formatTime(path.since)} ({formatAgo(path.since)})
          </p>
          {path.lastError && <p class="health-error">Last error: {path.lastError}</p>}
          {path.history.length > 0 && (
            <details>
              <summary>History ({path.history.length} changes)</summary>
              <ol class="health-history">
                {[...path.history].reverse().map((change) => (
                  <li key={`${change.t}-${change.state}`}>
                    {formatTime(change.t)}: {stateWords[change.state]}
                  </li>
                ))}
              </ol>
            </details>
          )}
        </li>
      ))}
    </ul>
  );
}

/** The circuit is down: a banner on every page, announced once when it appears. */
export function OutageBanner({ health }: { health: PathHealth[] | undefined }) {
  const down = (health ?? []).filter((path) => path.state === 'down');
  if (down.length === 0) return null;
  return (
    <div class="outage" role="alert">
      {down.map((path) => (
        <p key={path.path}>
          <strong>{pathNames[path.path] ?? path.path} path down</strong> since {formatTime(path.since)}
          {path.path === 'expressroute'
            ? ': circuit-bound traffic is refused, never sent over the Internet (fail closed).'
            : ': documented exceptions cannot reach the Internet.'}
          {path.lastError ? ` Last error: ${path.lastError}` : ''}
        </p>
      ))}
    </div>
  );
}
