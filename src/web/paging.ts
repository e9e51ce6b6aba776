// Where a paged list stands, kept in the page URL: the cursor of the page shown (none for the
// newest page) and the cursors of the pages before it, so Previous needs no request of its own.
// The store hands out the cursors (`next` of /api/flows); they are opaque here.
//
// The URL keeps only the last `maxTrailCursors` of them and counts the older pages: a cursor is
// about 80 characters, and a trail of every page would pass the 16 KiB request-head limit of a
// Node server (and so fail on reload or from a bookmark) about 200 pages deep.

export interface CursorTrail {
  /** The page's cursor; undefined for the first (newest) page. */
  cursor: string | undefined;
  /** Cursors of the earlier pages after the first, oldest first; at most `maxTrailCursors`. */
  back: string[];
  /** Pages between the newest page and `back[0]` whose cursors the trail no longer keeps. */
  skipped: number;
}

/** How many earlier pages Previous can reach from any page. */
export const maxTrailCursors = 32;

/** Cursors are base64url, so `.` separates them in one parameter. */
const separator = '.';
const cursorPattern = /^[A-Za-z0-9_-]+$/;
const countPattern = /^(0|[1-9][0-9]{0,6})$/;

const paramName = (prefix: string, suffix: string) =>
  prefix === '' ? suffix.toLowerCase() : `${prefix}${suffix}`;

/** Reads a trail from the URL under `prefix` (`cursor`/`back`/`skip`, or e.g. `leakCursor`/`leakBack`/`leakSkip`). */
export function trailFromParams(params: URLSearchParams, prefix = ''): CursorTrail {
  const cursor = params.get(paramName(prefix, 'Cursor')) ?? '';
  if (!cursorPattern.test(cursor)) return firstPage;
  const back = (params.get(paramName(prefix, 'Back')) ?? '')
    .split(separator)
    .filter((part) => cursorPattern.test(part))
    .slice(-maxTrailCursors);
  const skip = params.get(paramName(prefix, 'Skip')) ?? '';
  return { cursor, back, skipped: countPattern.test(skip) ? Number(skip) : 0 };
}

/** The URL parameters of a trail under `prefix`; empty ones are left out of links. */
export function trailParams(trail: CursorTrail, prefix = ''): Record<string, string | undefined> {
  return {
    [paramName(prefix, 'Cursor')]: trail.cursor,
    [paramName(prefix, 'Back')]: trail.back.length > 0 ? trail.back.join(separator) : undefined,
    [paramName(prefix, 'Skip')]: trail.skipped > 0 ? String(trail.skipped) : undefined,
  };
}

export const firstPage: CursorTrail = { cursor: undefined, back: [], skipped: 0 };

export function nextTrail(trail: CursorTrail, next: string): CursorTrail {
  if (trail.cursor === undefined) return { cursor: next, back: [], skipped: 0 };
  const back = [...trail.back, trail.cursor];
  const dropped = Math.max(0, back.length - maxTrailCursors);
  return { cursor: next, back: back.slice(dropped), skipped: trail.skipped + dropped };
}

/** The trail of the page before; null on the first page, and where the kept cursors run out. */
export function previousTrail(trail: CursorTrail): CursorTrail | null {
  if (trail.cursor === undefined) return null;
  if (trail.back.length === 0) return trail.skipped === 0 ? firstPage : null;
  return { cursor: trail.back.at(-1), back: trail.back.slice(0, -1), skipped: trail.skipped };
}

/** How many pages come before this one. */
export function pagesBefore(trail: CursorTrail): number {
  return trail.cursor === undefined ? 0 : trail.skipped + trail.back.length + 1;
}
