// The shell: header and navigation, the current page, the outage banner and the token dialog.
// Moves focus to the new page's heading on navigation, so keyboard and screen-reader users land
// where sighted users look.
import { useEffect, useRef, useState } from 'preact/hooks';
import { connectLive } from './api/events.js';
import { getToken, onTokenChange, setToken } from './api/token.js';
import type { DashboardStatus } from './api/types.js';
import { ErrorNote } from './components/error-note.js';
import { OutageBanner } from './components/health-panel.js';
import { pageTitle, SiteHeader } from './components/site-header.js';
import { TokenDialog } from './components/token-dialog.js';
import { useApi } from './hooks/use-api.js';
import { useHealth, useLiveState } from './hooks/use-live.js';
import { CatalogPage } from './pages/catalog.js';
import { ExceptionsPage } from './pages/exceptions.js';
import { FlowsPage } from './pages/flows.js';
import { LeaksPage } from './pages/leaks.js';
import { OverviewPage } from './pages/overview.js';
import { useRoute } from './router.js';

export function App() {
  const route = useRoute();
  const [tokenVersion, setTokenVersion] = useState(0);
  useEffect(() => onTokenChange(() => setTokenVersion((n) => n + 1)), []);
  useEffect(() => connectLive(), []);
  const { data: status, error } = useApi<DashboardStatus>('/api/status', {}, tokenVersion);
  const liveState = useLiveState();
  const health = useHealth()?.health ?? status?.health;

  const main = useRef<HTMLElement>(null);
  const first = useRef(true);
  // Runs on page changes only.
  useEffect(() => {
    document.title = `${pageTitle(route.page)} · pathwarden`;
    if (first.current) {
      first.current = false;
      return;
    }
    const heading = main.current?.querySelector<HTMLElement>('h1');
    (heading ?? main.current)?.focus();
  }, [route.page]);

  return (
    <>
      {/* biome-ignore lint/a11y/useValidAnchor: a skip link is an in-page link; it moves focus itself because the hash belongs to the router. */}
      <a class="skip-link" href="#main" onClick={skipToMain}>
        Skip to content
      </a>
      <SiteHeader
        page={route.page}
        status={status}
        liveState={liveState}
        onForgetToken={getToken() ? () => setToken(null) : undefined}
      />
      <OutageBanner health={health} />
      <main id="main" ref={main} tabIndex={-1} key={tokenVersion}>
        <ErrorNote error={error} what="the dashboard status" />
        {route.page === 'overview' && <OverviewPage status={status} params={route.params} />}
        {route.page === 'exceptions' && <ExceptionsPage params={route.params} />}
        {route.page === 'leaks' && <LeaksPage params={route.params} />}
        {route.page === 'flows' && <FlowsPage params={route.params} />}
        {route.page === 'catalog' && <CatalogPage params={route.params} />}
      </main>
      <TokenDialog />
    </>
  );
}

/** The skip link must not change the hash (that is the router's): focus <main> directly. */
function skipToMain(event: MouseEvent) {
  event.preventDefault();
  document.getElementById('main')?.focus();
}
