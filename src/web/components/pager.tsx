// Previous / next links for a page of a store query, paged by cursor; the position is part of the URL
// (src/web/paging.ts), so a deep page is as fast as the first and can be bookmarked.
import { type CursorTrail, nextTrail, pagesBefore, previousTrail } from '../paging.js';

interface Props {
  total: number;
  limit: number;
  shown: number;
  trail: CursorTrail;
  /** The `next` cursor of the page shown (null on the last page). */
  next: string | null;
  hrefFor: (trail: CursorTrail) => string;
  label: string;
}

export function Pager({ total, limit, shown, trail, next, hrefFor, label }: Props) {
  // Pages of `limit` flows each came before; flows stored since then do not move a cursor page.
  const offset = pagesBefore(trail) * limit;
  const first = shown === 0 ? 0 : offset + 1;
  const last = offset + shown;
  const previous = previousTrail(trail);
  return (
    <nav class="pager" aria-label={label}>
      <p class="pager-position" aria-live="polite">
        {first.toLocaleString('en-US')}–{last.toLocaleString('en-US')} of{' '}
        <span data-testid="total">{total.toLocaleString('en-US')}</span>
      </p>
      {previous ? (
        <a class="button" href={hrefFor(previous)} rel="prev">
          Previous
        </a>
      ) : (
        <span class="button" aria-disabled="true">
          Previous
        </span>
      )}
      {next !== null ? (
        <a class="button" href={hrefFor(nextTrail(trail, next))} rel="next">
          Next
        </a>
      ) : (
        <span class="button" aria-disabled="true">
          Next
        </span>
      )}
    </nav>
  );
}
