// Where a paged list stands, kept in the page URL: the cursor of the page shown (none for the
// newest page) and the cursors of the pages before it, so Previous needs no request of its own.
// The store hands out the cursors (`next` of /api/flows); they are opaque here.

export interface CursorTrail {
  /** The page's cursor; undefined for the first (newest) page. */
  cursor: string | undefined;
  /** Cursors of the earlier pages after the first, oldest first. */
  back: string[];
}

/** Cursors are base64url, so `.` separates them in one parameter. */
const separator = '.';
const cursorPattern = /^[A-Za-z0-9_-]+$/;

/** Reads a trail from the URL under `prefix` (`cursor`/`back`, or e.g. `leakCursor`/`leakBack`). */
export function trailFromParams(params: URLSearchParams, prefix = ''): CursorTrail {
  const name = (suffix: string) => (prefix === '' ? suffix.toLowerCase() : `${prefix}${suffix}`);
  const cursor = params.get(name('Cursor')) ?? '';
  if (!cursorPattern.test(cursor)) return { cursor: undefined, back: [] };
  const back = (params.get(name('Back')) ?? '').split(separator).filter((part) => cursorPattern.test(part));
  return { cursor, back };
}

/** The URL parameters of a trail under `prefix`; empty ones are left out of links. */
export function trailParams(trail: CursorTrail, prefix = ''): Record<string, string | undefined> {
  const name = (suffix: string) => (prefix === '' ? suffix.toLowerCase() : `${prefix}${suffix}`);
  return {
    [name('Cursor')]: trail.cursor,
    [name('Back')]: trail.back.length > 0 ? trail.back.join(separator) : undefined,
  };
}

export const firstPage: CursorTrail = { cursor: undefined, back: [] };

export function nextTrail(trail: CursorTrail, next: string): CursorTrail {
  return { cursor: next, back: trail.cursor === undefined ? [] : [...trail.back, trail.cursor] };
}

/** The trail of the page before; null on the first page. */
export function previousTrail(trail: CursorTrail): CursorTrail | null {
  if (trail.cursor === undefined) return null;
  return { cursor: trail.back.at(-1), back: trail.back.slice(0, -1) };
}

/** How many pages come before this one. */
export function pagesBefore(trail: CursorTrail): number {
  return trail.cursor === undefined ? 0 : trail.back.length + 1;
}
