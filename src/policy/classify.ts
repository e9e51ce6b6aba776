// classifyFlow(): the single step that turns a FlowRecord's evidence into an actual path (via the
// topology) and a decision (via the catalog). Audit and gateway both call it; nothing else
// computes verdicts.
import type { Component } from '../catalog/model.js';
import type { FlowRecord } from '../flow/record.js';
import { canonicalHostName } from '../match/host.js';
import { type IpAddress, parseIp } from '../match/ip.js';
import type { Decision, Policy } from './policy.js';
import type { PathResolver } from './topology.js';

export interface ClassifyOptions {
  /** Component of flows whose record does not say (default `saas`). */
  component?: Component;
  /** Host names for addresses, from DNS answers seen in the same audit. */
  nameOf?: (address: string) => string | undefined;
}

/**
 * Fills `actualPath` (unless the input already set it), `expectedPath`, `verdict`, `ruleId` and
 * `reason` in place and returns the decision. The destination name is, in order: the requested
 * host, the SNI, the HTTP Host, a DNS name of the destination address, the address itself.
 */
export function classifyFlow(
  flow: FlowRecord,
  policy: Policy,
  resolver: PathResolver,
  options: ClassifyOptions = {},
): Decision {
  if (flow.actualPath === 'unknown' && flow.protocol === 'dns') {
    // A lookup travels to the resolver, not to the name it asks about: where the query went says
    // nothing about the path of the name's traffic, so a DNS record never proves a leak.
    flow.actualPathEvidence ??= 'dns lookup';
  } else if (flow.actualPath === 'unknown') {
    const result = resolver.resolve({
      destination: parseAddress(flow.destination),
      source: parseAddress(flow.sourceAddress),
      proxy: flow.upstream ?? undefined,
    });
    flow.actualPath = result.path;
    if (result.path !== 'unknown' || flow.actualPathEvidence === null)
      flow.actualPathEvidence = result.evidence;
  }
  const component = flow.component ?? options.component ?? 'saas';
  const decideOptions = { component, port: flow.port ?? undefined, actualPath: flow.actualPath };
  let decision: Decision | undefined;
  for (const candidate of [flow.host, flow.sni, flow.httpHost]) {
    if (!candidate) continue;
    // Addresses first: a dotted quad is also a syntactically valid name, but must meet the prefixes.
    const address = parseAddress(candidate);
    if (address) {
      decision = policy.decideAddress(address, candidate, decideOptions);
      break;
    }
    const name = canonicalHostName(candidate);
    if (name !== undefined) {
      decision = policy.decideHost(name, decideOptions);
      break;
    }
  }
  if (!decision && flow.destination) {
    const name = options.nameOf?.(flow.destination);
    const canonical = name === undefined ? undefined : canonicalHostName(name);
    if (canonical !== undefined) {
      if (flow.host === null) flow.host = canonical;
      decision = policy.decideHost(canonical, decideOptions);
    } else {
      const address = parseAddress(flow.destination);
      if (address) decision = policy.decideAddress(address, flow.destination, decideOptions);
    }
  }
  decision ??= policy.decideHost('', decideOptions);
  flow.expectedPath = decision.path;
  flow.verdict = decision.verdict;
  flow.ruleId = decision.rule?.id ?? null;
  flow.reason = decision.reason;
  return decision;
}

function parseAddress(text: string | null): IpAddress | undefined {
  if (!text) return undefined;
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  return parseIp(bare);
}
