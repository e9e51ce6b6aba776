import { describe, expect, it } from 'vitest';
import {
  type CursorTrail,
  firstPage,
  maxTrailCursors,
  nextTrail,
  pagesBefore,
  previousTrail,
  trailFromParams,
  trailParams,
} from './paging.js';

/** A cursor as long as the store's (base64url of a JSON position, about 80 characters). */
const cursorFor = (page: number) =>
  Buffer.from(
    JSON.stringify({ s: 1_733_000_000_000 + page, e: 1_733_000_000_500 + page, i: page, g: 'gw-edge-01' }),
  ).toString('base64url');

/** The page URL's query after following Next `pages` times from the newest page. */
function walk(pages: number): { trail: CursorTrail; query: string } {
  let trail = firstPage;
  for (let page = 1; page <= pages; page++) {
    trail = nextTrail(trail, cursorFor(page));
    // Every step goes through the URL, as a click on the link does.
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(trailParams(trail)))
      if (value !== undefined) params.set(key, value);
    trail = trailFromParams(params);
  }
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(trailParams(trail)))
    if (value !== undefined) params.set(key, value);
  return { trail, query: params.toString() };
}

describe('cursor trail in the page URL', () => {
  it('goes back page by page through the cursors it keeps', () => {
    const { trail } = walk(5);
    expect(pagesBefore(trail)).toBe(5);
    let back: CursorTrail | null = trail;
    for (let page = 4; page >= 1; page--) {
      back = previousTrail(back as CursorTrail);
      expect(back?.cursor).toBe(cursorFor(page));
      expect(pagesBefore(back as CursorTrail)).toBe(page);
    }
    back = previousTrail(back as CursorTrail);
    expect(back).toEqual(firstPage);
    expect(previousTrail(firstPage)).toBeNull();
  });

  it('stays far below the 16 KiB header limit of a Node server 1,000 pages deep, and still counts right', () => {
    // Before: every page added its cursor, and a reload 200+ pages deep was refused by the server.
    const { trail, query } = walk(1_000);
    expect(query.length).toBeLessThan(8_192);
    expect(trail.cursor).toBe(cursorFor(1_000));
    expect(trail.back).toHaveLength(maxTrailCursors);
    expect(pagesBefore(trail)).toBe(1_000);
    const previous = previousTrail(trail);
    expect(previous?.cursor).toBe(cursorFor(999));
    expect(pagesBefore(previous as CursorTrail)).toBe(999);
  });

  it('has no Previous once the kept cursors are used up, and says how many pages came before', () => {
    let trail: CursorTrail | null = walk(maxTrailCursors + 10).trail;
    let steps = 0;
    while (trail !== null && previousTrail(trail) !== null) {
      trail = previousTrail(trail);
      steps++;
    }
    expect(steps).toBe(maxTrailCursors);
    expect(trail?.cursor).toBe(cursorFor(10));
    expect(pagesBefore(trail as CursorTrail)).toBe(10);
  });

  it('ignores a skip count that is not a small whole number', () => {
    for (const skip of ['-1', '1e9', 'x', '1.5', '99999999']) {
      const trail = trailFromParams(new URLSearchParams({ cursor: cursorFor(3), skip }));
      expect(trail.skipped).toBe(0);
    }
    expect(trailFromParams(new URLSearchParams({ cursor: cursorFor(3), skip: '40' })).skipped).toBe(40);
    // No cursor: the newest page, whatever else the URL says.
    expect(trailFromParams(new URLSearchParams({ skip: '40' }))).toEqual(firstPage);
  });
});
