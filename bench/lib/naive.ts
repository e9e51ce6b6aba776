// The obvious way to decide a target: canonicalize it, then test every pattern of every rule and
// keep the most specific match, ranked exactly as docs/model.md says. It is the benchmark's
// baseline and, because it shares nothing with the index but the matchers' reference functions
// (hostMatchesPattern, prefixContains), the oracle the index's answers are checked against.
import {
  type Component,
  coversAllComponents,
  type Rule,
  uncoveredComponents,
} from '../../src/catalog/model.js';
import {
  formatHostPattern,
  type HostPattern,
  hostMatchesPattern,
  parseHostPattern,
} from '../../src/match/host.js';
import { formatPrefix, type IpPrefix, parsePrefix, prefixContains } from '../../src/match/ip.js';
import type { ExpectedPath } from '../../src/policy/policy.js';
import { parseTarget } from '../../src/policy/target.js';

/** What the scan found: enough to compare with a Decision. */
export interface NaiveAnswer {
  path: ExpectedPath;
  ruleId: string | null;
  matched: string | null;
}

interface Candidate {
  rule: Rule;
  order: number;
  general: boolean;
  text: string;
}

interface HostCandidate extends Candidate {
  pattern: HostPattern;
}

interface PrefixCandidate extends Candidate {
  prefix: IpPrefix;
}

export class NaiveScanner {
  readonly #hosts: HostCandidate[] = [];
  readonly #prefixes: PrefixCandidate[] = [];

  constructor(rules: readonly Rule[]) {
    rules.forEach((rule, order) => {
      const general = coversAllComponents(rule);
      for (const host of rule.hosts) {
        const pattern = parseHostPattern(host);
        if (typeof pattern === 'string') throw new Error(pattern);
        this.#hosts.push({ rule, order, general, pattern, text: formatHostPattern(pattern) });
      }
      for (const text of rule.prefixes ?? []) {
        const prefix = parsePrefix(text);
        if (typeof prefix === 'string') throw new Error(prefix);
        this.#prefixes.push({ rule, order, general, prefix, text: formatPrefix(prefix) });
      }
    });
  }

  decide(input: string, component: Component = 'saas', givenPort?: number): NaiveAnswer {
    if (uncoveredComponents.has(component)) return { path: 'not-covered', ruleId: null, matched: null };
    const target = parseTarget(input);
    if (typeof target === 'string') throw new Error(target);
    const port = givenPort ?? target.port;
    let best: Candidate | undefined;
    let bestSpecificity = -1;
    const consider = (candidate: Candidate, specificity: number) => {
      if (!candidate.rule.components.includes(component)) return;
      // With the port unknown every rule may apply; with it known, only rules allowing it.
      if (port !== undefined && candidate.rule.ports !== undefined && !candidate.rule.ports.includes(port)) {
        return;
      }
      if (
        best === undefined ||
        specificity > bestSpecificity ||
        (specificity === bestSpecificity && ranksBefore(candidate, best))
      ) {
        best = candidate;
        bestSpecificity = specificity;
      }
    };
    if (target.address === undefined) {
      for (const candidate of this.#hosts) {
        if (!hostMatchesPattern(target.host, candidate.pattern)) continue;
        // An exact name beats any wildcard; a longer wildcard suffix beats a shorter one.
        const { pattern } = candidate;
        consider(candidate, pattern.kind === 'exact' ? Number.MAX_SAFE_INTEGER : pattern.suffix.length);
      }
    } else {
      for (const candidate of this.#prefixes) {
        if (prefixContains(candidate.prefix, target.address)) consider(candidate, candidate.prefix.length);
      }
    }
    const found = best as Candidate | undefined;
    if (found === undefined) return { path: 'unknown', ruleId: null, matched: null };
    return { path: found.rule.path, ruleId: found.rule.id, matched: found.text };
  }
}

/** Between two rules on equally specific patterns: component-specific, then port-restricted, then first. */
function ranksBefore(a: Candidate, b: Candidate): boolean {
  if (a.general !== b.general) return !a.general;
  const aPorts = a.rule.ports !== undefined;
  const bPorts = b.rule.ports !== undefined;
  if (aPorts !== bPorts) return aPorts;
  return a.order < b.order;
}
