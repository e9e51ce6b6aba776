// A destination's decisions turned into egress paths: one for any port, plus the ports where a
// port-restricted rule sends it elsewhere. Generators that cannot see ports (DNS sets, Squid
// dstdomain lists) accept only destinations whose egress does not depend on the port.
import type { EgressPath } from '../catalog/model.js';
import { PathwardenError } from '../errors.js';
import type { PortDecisions } from './destinations.js';
import { egressOf, type PathChoice } from './egress.js';

export interface Route {
  any: EgressPath;
  /** Ports whose egress differs from `any`, ascending. */
  byPort: ReadonlyMap<number, EgressPath>;
}

export function routeOf(decisions: PortDecisions, choice: PathChoice): Route {
  const any = egressOf(decisions.any.path, choice);
  const byPort = new Map<number, EgressPath>();
  for (const [port, decision] of decisions.byPort) {
    const egress = egressOf(decision.path, choice);
    if (egress !== any) byPort.set(port, egress);
  }
  return { any, byPort };
}

/** Equal keys = equal routes; used to group destinations that return the same answer. */
export function routeKey(route: Route): string {
  let key = route.any;
  for (const [port, egress] of route.byPort) key += ` ${port}:${egress}`;
  return key;
}

/** The one egress of a destination, or a PW_ERR_GENERATE_INVALID naming the generator's limit. */
export function singleEgress(route: Route, destination: string, kind: string): EgressPath {
  if (route.byPort.size === 0) return route.any;
  const ports = [...route.byPort].map(([port, egress]) => `${port} -> ${egress}`).join(', ');
  throw new PathwardenError(
    'PW_ERR_GENERATE_INVALID',
    `${kind} cannot express port-dependent paths: ${destination} takes ${route.any} except on port ${ports} (use generate pac, or split the rule)`,
  );
}
