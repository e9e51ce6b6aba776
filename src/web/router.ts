// Hash routes (#/flows?verdict=leak): the server serves one file, and every view of the
// dashboard is a link that can be bookmarked, shared and opened with the keyboard.
import { useEffect, useState } from 'preact/hooks';

export const pages = ['overview', 'exceptions', 'leaks', 'flows', 'catalog'] as const;
export type Page = (typeof pages)[number];

export interface Route {
  page: Page;
  params: URLSearchParams;
}

export function parseRoute(hash: string): Route {
  const text = hash.replace(/^#\/?/, '');
  const question = text.indexOf('?');
  const name = question < 0 ? text : text.slice(0, question);
  const params = new URLSearchParams(question < 0 ? '' : text.slice(question + 1));
  const page = (pages as readonly string[]).includes(name) ? (name as Page) : 'overview';
  return { page, params };
}

/** The hash of a page with parameters; empty values are left out so links stay short. */
export function href(page: Page, params: Record<string, string | number | null | undefined> = {}): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  }
  const query = search.toString();
  return `#/${page}${query ? `?${query}` : ''}`;
}

export function navigate(page: Page, params: Record<string, string | number | null | undefined> = {}): void {
  location.hash = href(page, params);
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const update = () => setRoute(parseRoute(location.hash));
    window.addEventListener('hashchange', update);
    return () => window.removeEventListener('hashchange', update);
  }, []);
  return route;
}
