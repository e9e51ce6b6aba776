// Egress choice: which way out a destination takes, from the catalog's decision and the config's
// `decisions` table. This file is the whole decision table of docs/gateway.md; nothing else in the
// gateway maps decisions to paths.
import type { Component, EgressPath } from '../catalog/model.js';
import { formatIp, type IpAddress } from '../match/ip.js';
import type { Decision, Policy } from '../policy/policy.js';
import type { Target } from '../policy/target.js';
import type { ActualPath } from '../policy/verdict.js';
import type { GatewayConfig } from './config.js';
import { GatewayError } from './errors.js';

export type EgressConfig = GatewayConfig['egress']['expressroute'];

/** A decision and how to repeat exactly its lookup once the actual path is known. */
export interface DestinationDecision {
  decision: Decision;
  redecide: (actualPath: ActualPath) => Decision;
}

/**
 * The catalog's decision for a destination: by name when it is a name, falling back to the
 * resolved addresses when no rule matches the name (a name outside the catalog that resolves into
 * the PowerBI service-tag prefixes still belongs on the circuit); by address for IP literals.
 */
export function decideDestination(
  policy: Policy,
  target: Target,
  addresses: readonly IpAddress[],
  component: Component,
  port: number,
): DestinationDecision {
  if (target.address === undefined) {
    const name = target.host;
    const byName = (actualPath: ActualPath) => policy.decideHost(name, { component, port, actualPath });
    const decision = byName('unknown');
    if (decision.path !== 'unknown') return { decision, redecide: byName };
    for (const address of addresses) {
      const byAddress = (actualPath: ActualPath): Decision => ({
        ...policy.decideAddress(address, formatIp(address), { component, port, actualPath }),
        input: name,
        host: name,
      });
      const fallback = byAddress('unknown');
      if (fallback.path !== 'unknown') return { decision: fallback, redecide: byAddress };
    }
    return { decision, redecide: byName };
  }
  const address = target.address;
  const byAddress = (actualPath: ActualPath) =>
    policy.decideAddress(address, target.host, { component, port, actualPath });
  return { decision: byAddress('unknown'), redecide: byAddress };
}

/** The decision table: rule path (or why there is none) -> egress path, or a refusal. */
export function chooseEgress(decision: Decision, decisions: GatewayConfig['decisions']): EgressPath {
  switch (decision.path) {
    case 'expressroute':
      return 'expressroute';
    case 'internet':
      return 'internet';
    case 'either':
      return decisions.either;
    case 'unknown':
      if (decisions.unknown === 'deny') {
        throw new GatewayError(
          'PW_GW_UNKNOWN_DENIED',
          `no catalog rule matches ${decision.host} for the ${decision.component} component, and decisions.unknown is deny`,
        );
      }
      return 'internet';
    case 'not-covered':
      if (decisions.notCovered === 'deny') {
        throw new GatewayError(
          'PW_GW_NOT_COVERED_DENIED',
          `the catalog does not cover the ${decision.component} component, and decisions.notCovered is deny`,
        );
      }
      return decisions.notCovered;
    default:
      throw new Error(`unhandled path ${String(decision.path satisfies never)}`);
  }
}
