// The destination table of one component: every host pattern and prefix its rules name, each with
// the decision decide() gives a destination that this pattern (and nothing more specific) matches.
// Generators never rank rules themselves: they probe the policy, so they agree with decide() by
// construction, including component-specific rules and port-restricted ones.
import { type Component, uncoveredComponents } from '../catalog/model.js';
import { PathwardenError } from '../errors.js';
import { formatHostPattern, type HostPattern, hostMatchesPattern, parseHostPattern } from '../match/host.js';
import { formatPrefix, type IpAddress, type IpPrefix, parsePrefix, prefixContains } from '../match/ip.js';
import type { Decision, ExpectedPath, Policy } from '../policy/policy.js';

export interface DestinationDecision {
  path: ExpectedPath;
  /** Rule decide() picked; `null` when no rule matches. */
  ruleId: string | null;
}

/** A decision for "any other port", plus the ports (named by some rule) where it differs. */
export interface PortDecisions {
  any: DestinationDecision;
  byPort: ReadonlyMap<number, DestinationDecision>;
}

export interface HostDestination {
  pattern: HostPattern;
  /** `name` or `*.suffix`. */
  text: string;
  decisions: PortDecisions;
}

export interface PrefixDestination {
  prefix: IpPrefix;
  text: string;
  decisions: PortDecisions;
}

export interface DestinationTable {
  component: Component;
  /** Host patterns of the component's rules, exact names first, then wildcards by suffix length. */
  hosts: readonly HostDestination[];
  /** Prefixes of the component's rules that some address still reaches (not wholly shadowed). */
  prefixes: readonly PrefixDestination[];
  /** Ports some rule of the component names; decisions can differ only on these. */
  ports: readonly number[];
  /** Decisions for one canonical host name (apex names, test probes). */
  decideName(name: string): PortDecisions;
}

export function destinationTable(policy: Policy, component: Component): DestinationTable {
  if (uncoveredComponents.has(component)) {
    throw new PathwardenError(
      'PW_ERR_GENERATE_INVALID',
      `the catalog does not cover the ${component} component: decide() expects no path for it, so there is nothing to generate`,
    );
  }
  const rules = policy.catalog.rules.filter((rule) => rule.components.includes(component));
  const ports = [...new Set(rules.flatMap((rule) => rule.ports ?? []))].sort((a, b) => a - b);
  // A port no rule names stands for "any other port" (decide() treats it like no port at all).
  let otherPort = 1;
  while (ports.includes(otherPort)) otherPort++;

  const collect = (decide: (port: number) => Decision): PortDecisions => {
    const any = decisionOf(decide(otherPort));
    const byPort = new Map<number, DestinationDecision>();
    for (const port of ports) {
      const decision = decisionOf(decide(port));
      if (decision.path !== any.path || decision.ruleId !== any.ruleId) byPort.set(port, decision);
    }
    return { any, byPort };
  };
  const decideName = (name: string) => collect((port) => policy.decideHost(name, { component, port }));

  const patterns = new Map<string, HostPattern>();
  const prefixes = new Map<string, IpPrefix>();
  for (const rule of rules) {
    for (const host of rule.hosts) {
      const pattern = parseHostPattern(host);
      if (typeof pattern !== 'string') patterns.set(formatHostPattern(pattern), pattern);
    }
    for (const text of rule.prefixes ?? []) {
      const prefix = parsePrefix(text);
      if (typeof prefix !== 'string') prefixes.set(formatPrefix(prefix), prefix);
    }
  }

  const hosts = [...patterns.entries()]
    .sort(([, a], [, b]) => specificityOrder(a, b))
    .map(([text, pattern]) => ({
      pattern,
      text,
      decisions: decideName(pattern.kind === 'exact' ? pattern.name : probeName(pattern.suffix, patterns)),
    }));

  const prefixList = [...prefixes.values()];
  const prefixDestinations: PrefixDestination[] = [];
  for (const prefix of prefixList) {
    const probe = firstUnshadowedAddress(prefix, prefixList);
    if (probe === undefined) continue; // every address has a more specific prefix: never decided here
    const text = formatPrefix(prefix);
    prefixDestinations.push({
      prefix,
      text,
      decisions: collect((port) => policy.decideAddress(probe, text, { component, port })),
    });
  }
  return { component, hosts, prefixes: prefixDestinations, ports, decideName };
}

function decisionOf(decision: Decision): DestinationDecision {
  return { path: decision.path, ruleId: decision.rule?.id ?? null };
}

/** Exact names before wildcards, longer wildcard suffixes first, then by name: decide()'s ranking. */
export function specificityOrder(a: HostPattern, b: HostPattern): number {
  if (a.kind !== b.kind) return a.kind === 'exact' ? -1 : 1;
  const nameA = a.kind === 'exact' ? a.name : a.suffix;
  const nameB = b.kind === 'exact' ? b.name : b.suffix;
  return nameB.length - nameA.length || (nameA < nameB ? -1 : nameA > nameB ? 1 : 0);
}

/** True when every name `specific` matches is also matched by `general` (and they differ). */
/** Reading order inside one first-match block, where order no longer matters: names, then wildcards, A-Z. */
export function displayOrder(
  a: { pattern: HostPattern; text: string },
  b: { pattern: HostPattern; text: string },
): number {
  if (a.pattern.kind !== b.pattern.kind) return a.pattern.kind === 'exact' ? -1 : 1;
  return a.text < b.text ? -1 : a.text > b.text ? 1 : 0;
}

/** Reading order of prefixes: IPv4 first, then by address. */
export function prefixDisplayOrder(a: { prefix: IpPrefix }, b: { prefix: IpPrefix }): number {
  if (a.prefix.version !== b.prefix.version) return a.prefix.version - b.prefix.version;
  for (let i = 0; i < a.prefix.bytes.length; i++) {
    const diff = (a.prefix.bytes[i] as number) - (b.prefix.bytes[i] as number);
    if (diff !== 0) return diff;
  }
  return a.prefix.length - b.prefix.length;
}

export function hostPatternCovers(general: HostPattern, specific: HostPattern): boolean {
  if (general.kind !== 'wildcard') return false;
  return hostMatchesPattern(specific.kind === 'exact' ? specific.name : specific.suffix, general);
}

export function prefixCovers(general: IpPrefix, specific: IpPrefix): boolean {
  return general.length < specific.length && prefixContains(general, specific);
}

/**
 * A name under `*.suffix` that no more specific pattern matches: one new label, checked against
 * the exact names and wildcards of the catalog.
 */
function probeName(suffix: string, patterns: ReadonlyMap<string, HostPattern>): string {
  for (let i = 0; ; i++) {
    const name = `pathwarden-probe${i === 0 ? '' : `-${i}`}.${suffix}`;
    if (!patterns.has(name) && !patterns.has(`*.${name}`)) return name;
  }
}

/** The lowest address of `prefix` that no more specific prefix of the list contains. */
function firstUnshadowedAddress(prefix: IpPrefix, all: readonly IpPrefix[]): IpAddress | undefined {
  const bits = prefix.version === 4 ? 32 : 128;
  const [start, end] = range(prefix, bits);
  const inner = all
    .filter((other) => prefixCovers(prefix, other))
    .map((other) => range(other, bits))
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  let candidate = start;
  for (const [innerStart, innerEnd] of inner) {
    if (innerStart > candidate) break;
    if (innerEnd >= candidate) candidate = innerEnd + 1n;
  }
  if (candidate > end) return undefined;
  const bytes = new Uint8Array(bits / 8);
  for (let i = bytes.length - 1; i >= 0; i--) {
    bytes[i] = Number(candidate & 0xffn);
    candidate >>= 8n;
  }
  return { version: prefix.version, bytes };
}

function range(prefix: IpPrefix, bits: number): [bigint, bigint] {
  let value = 0n;
  for (const byte of prefix.bytes) value = (value << 8n) | BigInt(byte);
  const hostBits = BigInt(bits - prefix.length);
  const start = (value >> hostBits) << hostBits;
  return [start, start + (1n << hostBits) - 1n];
}
