// The values a FlowRecord's enumerated fields may take, in one place for every consumer that checks
// or counts them (flow stores, metrics, the admin API). The lists themselves belong to the catalog
// and the policy; this module is where the layers above src/flow take them from.
import { components, egressPaths, rulePaths } from '../catalog/model.js';
import type { ExpectedPath } from '../policy/policy.js';
import { verdicts } from '../policy/verdict.js';
import type { FlowOutcome } from './record.js';

export type { Component, EgressPath } from '../catalog/model.js';
export type { ExpectedPath } from '../policy/policy.js';
export type { ActualPath, Verdict } from '../policy/verdict.js';
export { components, egressPaths, verdicts };

// Typed as records so that a new outcome or expected path in the model fails to compile here.
const outcomeNames: Record<FlowOutcome, true> = { forwarded: true, blocked: true, denied: true, error: true };
export const flowOutcomes = Object.keys(outcomeNames) as FlowOutcome[];
const expectedPathNames: Record<ExpectedPath, true> = {
  ...(Object.fromEntries(rulePaths.map((path) => [path, true])) as Record<(typeof rulePaths)[number], true>),
  unknown: true,
  'not-covered': true,
};
export const expectedPaths = Object.keys(expectedPathNames) as ExpectedPath[];
