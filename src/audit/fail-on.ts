// --fail-on: which verdicts make `pathwarden audit` exit with code 1, for CI gates.
import type { Verdict } from '../policy/verdict.js';
import type { AuditReport } from './audit-report.js';

/** Verdicts a --fail-on condition may name. `ok` and `not-covered` are never a failure. */
export const failOnVerdicts = ['leak', 'exception', 'unknown', 'unverified'] as const;
export type FailOn = (typeof failOnVerdicts)[number];

/** The conditions that matched, with their flow counts (empty when the gate passes). */
export function matchedFailOn(
  report: Pick<AuditReport, 'verdicts'>,
  conditions: readonly FailOn[],
): { verdict: Verdict; flows: number }[] {
  return [...new Set(conditions)]
    .map((verdict) => ({ verdict, flows: report.verdicts[verdict] }))
    .filter((match) => match.flows > 0);
}
