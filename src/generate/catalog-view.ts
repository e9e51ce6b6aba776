// The catalog's destinations across several components at once, for outputs that serve every
// client (allow-lists, route-filter guidance): each destination once per egress (or per path),
// with the components, rules and ports for which it takes it.
import {
  components as allComponents,
  type Component,
  type EgressPath,
  uncoveredComponents,
} from '../catalog/model.js';
import type { HostPattern } from '../match/host.js';
import type { IpPrefix } from '../match/ip.js';
import type { ExpectedPath, Policy } from '../policy/policy.js';
import type { Topology } from '../policy/topology.js';
import {
  type DestinationDecision,
  destinationTable,
  displayOrder,
  type PortDecisions,
  prefixDisplayOrder,
} from './destinations.js';
import { type PathChoice, pathChoice } from './egress.js';

export const coveredComponents: readonly Component[] = allComponents.filter(
  (c) => !uncoveredComponents.has(c),
);

export interface ViewEntry {
  destination: string;
  type: 'host' | 'prefix';
  pattern?: HostPattern;
  prefix?: IpPrefix;
  /** Grouping value: an egress path, or a decision path, as the caller chose. */
  group: string;
  components: Component[];
  rules: string[];
  /** `any`, or the ports on which this destination takes this group. */
  ports: 'any' | number[];
}

export interface CatalogView {
  choice: PathChoice;
  components: readonly Component[];
  entries: ViewEntry[];
}

/**
 * Merges the destination tables of `components`. `groupOf` picks what entries are grouped by
 * (the egress after --either, or the decision's path) from a destination's decision on one port.
 */
export function catalogView(
  policy: Policy,
  topology: Topology,
  options: { components?: readonly Component[]; either?: EgressPath },
  groupOf: (path: ExpectedPath, choice: PathChoice) => string,
): CatalogView {
  const components = options.components ?? coveredComponents;
  const choice = pathChoice(topology, options.either);
  const merged = new Map<string, ViewEntry>();
  for (const component of components) {
    const table = destinationTable(policy, component);
    const add = (
      type: 'host' | 'prefix',
      destination: string,
      decisions: PortDecisions,
      extra: Pick<ViewEntry, 'pattern' | 'prefix'>,
    ) => {
      const variants: [number | 'any', DestinationDecision][] = [
        ['any', decisions.any],
        ...[...decisions.byPort],
      ];
      for (const [port, decision] of variants) {
        const group = groupOf(decision.path, choice);
        const key = `${type}\u0000${destination}\u0000${group}`;
        let entry = merged.get(key);
        if (!entry) {
          entry = { destination, type, ...extra, group, components: [], rules: [], ports: [] };
          merged.set(key, entry);
        }
        if (!entry.components.includes(component)) entry.components.push(component);
        if (decision.ruleId !== null && !entry.rules.includes(decision.ruleId))
          entry.rules.push(decision.ruleId);
        if (port === 'any') entry.ports = 'any';
        else if (entry.ports !== 'any' && !entry.ports.includes(port)) entry.ports.push(port);
      }
    };
    for (const host of table.hosts) add('host', host.text, host.decisions, { pattern: host.pattern });
    for (const prefix of table.prefixes)
      add('prefix', prefix.text, prefix.decisions, { prefix: prefix.prefix });
  }
  const entries = [...merged.values()].sort((a, b) => {
    if (a.type !== b.type) return a.type === 'host' ? -1 : 1;
    if (a.pattern && b.pattern)
      return displayOrder(
        { pattern: a.pattern, text: a.destination },
        { pattern: b.pattern, text: b.destination },
      );
    return a.prefix && b.prefix ? prefixDisplayOrder({ prefix: a.prefix }, { prefix: b.prefix }) : 0;
  });
  return { choice, components, entries };
}
