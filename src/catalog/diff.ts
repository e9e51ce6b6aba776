// `catalog diff`: what changed between two catalogs, as a reviewer reads a change set: rules added,
// removed and changed (path, hosts, prefixes), and the hosts and prefixes added or removed overall.
import type { Catalog, Rule } from './model.js';

export interface RuleChange {
  id: string;
  path?: { from: string; to: string };
  hosts: { added: string[]; removed: string[] };
  prefixes: { added: string[]; removed: string[] };
}

export interface CatalogDiff {
  rules: { added: string[]; removed: string[]; changed: RuleChange[] };
  hosts: { added: string[]; removed: string[] };
  prefixes: { added: string[]; removed: string[] };
}

const minus = (a: Iterable<string>, b: ReadonlySet<string>) => [...new Set(a)].filter((x) => !b.has(x));
const destinations = (rules: readonly Rule[], field: 'hosts' | 'prefixes') =>
  new Set(rules.flatMap((rule) => rule[field] ?? []));

export function diffCatalogs(old: Catalog, next: Catalog): CatalogDiff {
  const before = new Map(old.rules.map((rule) => [rule.id, rule]));
  const after = new Map(next.rules.map((rule) => [rule.id, rule]));
  const changed: RuleChange[] = [];
  for (const [id, rule] of after) {
    const previous = before.get(id);
    if (!previous) continue;
    const change: RuleChange = {
      id,
      ...(previous.path !== rule.path ? { path: { from: previous.path, to: rule.path } } : {}),
      hosts: {
        added: minus(rule.hosts, new Set(previous.hosts)),
        removed: minus(previous.hosts, new Set(rule.hosts)),
      },
      prefixes: {
        added: minus(rule.prefixes ?? [], new Set(previous.prefixes ?? [])),
        removed: minus(previous.prefixes ?? [], new Set(rule.prefixes ?? [])),
      },
    };
    if (
      change.path ||
      change.hosts.added.length + change.hosts.removed.length > 0 ||
      change.prefixes.added.length + change.prefixes.removed.length > 0
    )
      changed.push(change);
  }
  return {
    rules: {
      added: [...after.keys()].filter((id) => !before.has(id)),
      removed: [...before.keys()].filter((id) => !after.has(id)),
      changed,
    },
    hosts: {
      added: minus(destinations(next.rules, 'hosts'), destinations(old.rules, 'hosts')),
      removed: minus(destinations(old.rules, 'hosts'), destinations(next.rules, 'hosts')),
    },
    prefixes: {
      added: minus(destinations(next.rules, 'prefixes'), destinations(old.rules, 'prefixes')),
      removed: minus(destinations(old.rules, 'prefixes'), destinations(next.rules, 'prefixes')),
    },
  };
}

export function isEmptyDiff(diff: CatalogDiff): boolean {
  return (
    diff.rules.added.length + diff.rules.removed.length + diff.rules.changed.length === 0 &&
    diff.hosts.added.length + diff.hosts.removed.length === 0 &&
    diff.prefixes.added.length + diff.prefixes.removed.length === 0
  );
}

export function formatDiff(diff: CatalogDiff): string {
  const out: string[] = [];
  const list = (title: string, items: readonly string[], sign: string) => {
    if (items.length === 0) return;
    out.push(`${title} (${items.length}):`);
    for (const item of items) out.push(`  ${sign} ${item}`);
  };
  list('rules added', diff.rules.added, '+');
  list('rules removed', diff.rules.removed, '-');
  if (diff.rules.changed.length > 0) {
    out.push(`rules changed (${diff.rules.changed.length}):`);
    for (const change of diff.rules.changed) {
      out.push(`  ~ ${change.id}${change.path ? `: path ${change.path.from} -> ${change.path.to}` : ''}`);
      for (const host of change.hosts.added) out.push(`      + host ${host}`);
      for (const host of change.hosts.removed) out.push(`      - host ${host}`);
      for (const prefix of change.prefixes.added) out.push(`      + prefix ${prefix}`);
      for (const prefix of change.prefixes.removed) out.push(`      - prefix ${prefix}`);
    }
  }
  list('hosts added', diff.hosts.added, '+');
  list('hosts removed', diff.hosts.removed, '-');
  list('prefixes added', diff.prefixes.added, '+');
  list('prefixes removed', diff.prefixes.removed, '-');
  return out.length === 0 ? 'no changes\n' : `${out.join('\n')}\n`;
}
