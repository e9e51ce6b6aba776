// The verdict table of docs/model.md, as one pure function.
import type { EgressPath, RulePath } from '../catalog/model.js';

export const verdicts = ['ok', 'leak', 'exception', 'unknown', 'unverified', 'not-covered'] as const;
export type Verdict = (typeof verdicts)[number];

export type ActualPath = EgressPath | 'unknown';

/**
 * Verdict of a flow from its expected path (`undefined` when no rule matches) and the path it
 * actually took. Components the seed does not cover are handled by the caller (`not-covered`).
 */
export function verdictOf(expected: RulePath | undefined, actual: ActualPath): Verdict {
  if (expected === undefined) return 'unknown';
  if (actual === 'unknown') return 'unverified';
  if (actual === 'expressroute') return 'ok';
  // actual === 'internet'
  return expected === 'expressroute' ? 'leak' : 'exception';
}
