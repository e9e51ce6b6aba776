// The banner: product name, what the dashboard is looking at, whether the live stream is
// connected, and the page links.
import type { DashboardStatus } from '../api/types.js';
import { type Page, pages } from '../router.js';

const pageTitles: Record<Page, string> = {
  overview: 'Overview',
  exceptions: 'Exceptions',
  leaks: 'Leaks and blocked',
  flows: 'Flows',
  catalog: 'Catalog',
};

export function pageTitle(page: Page): string {
  return pageTitles[page];
}

const liveWords = {
  connecting: 'Connecting…',
  open: 'Live',
  retrying: 'Reconnecting…',
  unauthorized: 'Token needed',
} as const;

interface Props {
  page: Page;
  status: DashboardStatus | undefined;
  liveState: keyof typeof liveWords;
  onForgetToken: (() => void) | undefined;
}

export function SiteHeader({ page, status, liveState, onForgetToken }: Props) {
  return (
    <header class="site-header">
      <div class="brand-row">
        <p class="brand">
          <span class="brand-mark" aria-hidden="true" />
          pathwarden
        </p>
        <p class="context">
          {status
            ? status.mode === 'gateway'
              ? `Gateway · ${status.store} store`
              : `Stored flows (${status.store}, read-only)`
            : ''}
        </p>
        {status && (
          <p class="context" data-testid="catalog-profile">
            Catalog {status.catalog.name} {status.catalog.version} · profile {status.catalog.profile}
          </p>
        )}
        <p class={`live live-${liveState}`}>
          <span class="live-dot" aria-hidden="true" />
          {liveState === 'open' && status?.mode === 'stored' ? 'Connected' : liveWords[liveState]}
        </p>
        {onForgetToken && (
          <button type="button" class="secondary small" onClick={onForgetToken}>
            Forget token
          </button>
        )}
      </div>
      <nav aria-label="Dashboard pages" class="site-nav">
        <ul>
          {pages.map((name) => (
            <li key={name}>
              <a href={`#/${name}`} aria-current={name === page ? 'page' : undefined}>
                {pageTitles[name]}
              </a>
            </li>
          ))}
        </ul>
      </nav>
    </header>
  );
}
