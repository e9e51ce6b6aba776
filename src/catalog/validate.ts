// Checks a catalog beyond its shape: unique ids, well-formed host patterns and prefixes,
// statements that point at real rules, and no two rules of equal specificity that disagree on
// the path for the same component (docs/model.md: a catalog error, never resolved silently).
import type { Location, Problem } from '../errors.js';
import { formatHostPattern, parseHostPattern } from '../match/host.js';
import { formatPrefix, parsePrefix } from '../match/ip.js';
import { type Catalog, type Component, coversAllComponents, type Rule } from './model.js';
import { rulesOfProfile, selectorMatches } from './profiles.js';

/** Where a rule (or one of its fields) is written; the loader supplies it. */
export type LocateRule = (rule: Rule, field?: string) => Location | undefined;

export function validateCatalog(catalog: Catalog, locate: LocateRule): Problem[] {
  const problems: Problem[] = [];
  const report = (rule: Rule, field: string | undefined, message: string) => {
    const location = locate(rule, field);
    problems.push(location ? { message, location } : { message });
  };

  const seen = new Map<string, Rule>();
  for (const rule of catalog.rules) {
    const first = seen.get(rule.id);
    if (first) {
      const at = locate(first);
      report(
        rule,
        'id',
        `duplicate rule id "${rule.id}"${at?.line ? ` (first defined at line ${at.line})` : ''}`,
      );
    } else {
      seen.set(rule.id, rule);
    }
    rule.hosts.forEach((host, i) => {
      const pattern = parseHostPattern(host);
      if (typeof pattern === 'string') report(rule, `hosts[${i}]`, pattern);
    });
    rule.prefixes?.forEach((text, i) => {
      const prefix = parsePrefix(text);
      if (typeof prefix === 'string') report(rule, `prefixes[${i}]`, prefix);
    });
  }

  const known = new Set([...seen.keys(), ...catalog.notes.map((note) => note.id)]);
  catalog.statements.forEach((statement, i) => {
    for (const id of statement.rules) {
      if (!known.has(id)) {
        problems.push({
          message: `statement "${statement.ref}" names unknown rule or note "${id}"`,
          location: {
            file: locate(catalog.rules[0] as Rule)?.file ?? '<catalog>',
            field: `statements[${i}]`,
          },
        });
      }
    }
  });

  const catalogFile = locate(catalog.rules[0] as Rule)?.file ?? '<catalog>';
  for (const [name, definition] of Object.entries(catalog.profiles ?? {})) {
    for (const selector of [...(definition.rules ?? []), ...(definition.exclude ?? [])]) {
      if (!catalog.rules.some((rule) => selectorMatches(selector, rule.id))) {
        problems.push({
          message: `profile "${name}" names "${selector}", which matches no rule`,
          location: { file: catalogFile, field: `profiles.${name}` },
        });
      }
    }
  }
  if (catalog.defaultProfile !== undefined && !catalog.profiles?.[catalog.defaultProfile]) {
    problems.push({
      message: `defaultProfile "${catalog.defaultProfile}" is not one of the catalog's profiles`,
      location: { file: catalogFile, field: 'defaultProfile' },
    });
  }

  // Rules of different profiles may disagree (that is what profiles are for): conflicts are
  // checked within each profile, and a pair is reported once.
  const ruleSets = catalog.profiles
    ? Object.values(catalog.profiles).map((definition) => rulesOfProfile(catalog, definition))
    : [catalog.rules];
  const seenPairs = new Set<string>();
  const conflicts = ruleSets
    .flatMap((rules) => findConflicts(rules))
    .filter((conflict) => {
      const key = `${conflict.rules[0].id}\u0000${conflict.rules[1].id}\u0000${conflict.destination}`;
      if (seenPairs.has(key)) return false;
      seenPairs.add(key);
      return true;
    });
  for (const conflict of conflicts) {
    const [a, b] = conflict.rules;
    const at = locate(a);
    report(
      b,
      undefined,
      `rule "${b.id}" (${b.path}) conflicts with rule "${a.id}" (${a.path})${at?.line ? ` at ${at.file}:${at.line}` : ''}: both give ${conflict.destination} for component ${conflict.component} with equal specificity`,
    );
  }
  return problems;
}

export interface Conflict {
  destination: string;
  component: Component;
  rules: [Rule, Rule];
}

/**
 * Pairs of rules with the same pattern, the same specificity tier (component-specific or general,
 * port-restricted or any port), an overlapping component and an overlapping port, that disagree
 * on the path.
 */
export function findConflicts(rules: readonly Rule[]): Conflict[] {
  // key: destination + tier + component -> first rule seen there
  const firstAt = new Map<string, Rule>();
  const conflicts: Conflict[] = [];
  const reported = new Set<string>();
  for (const rule of rules) {
    const tier = coversAllComponents(rule) ? 'general' : 'specific';
    const ports = rule.ports ? rule.ports.map(String) : ['any'];
    const destinations: string[] = [];
    for (const host of rule.hosts) {
      const pattern = parseHostPattern(host);
      if (typeof pattern !== 'string') destinations.push(formatHostPattern(pattern));
    }
    for (const text of rule.prefixes ?? []) {
      const prefix = parsePrefix(text);
      if (typeof prefix !== 'string') destinations.push(formatPrefix(prefix));
    }
    for (const destination of destinations) {
      for (const key of rule.components.flatMap((component) =>
        ports.map((port) => `${destination}\u0000${tier}\u0000${component}\u0000${port}`),
      )) {
        const component = key.split('\u0000')[2] as Component;
        const first = firstAt.get(key);
        if (first === undefined) {
          firstAt.set(key, rule);
        } else if (first.path !== rule.path && first.id !== rule.id) {
          const pairKey = `${first.id}\u0000${rule.id}\u0000${destination}`;
          if (!reported.has(pairKey)) {
            reported.add(pairKey);
            conflicts.push({ destination, component, rules: [first, rule] });
          }
        }
      }
    }
  }
  return conflicts;
}
