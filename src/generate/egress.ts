// How a generator turns an expected path into one of the two ways out: `either` and "no rule
// matches" have no egress of their own, so every generator resolves them the same way here.
import type { EgressPath } from '../catalog/model.js';
import { PathwardenError } from '../errors.js';
import type { ExpectedPath } from '../policy/policy.js';
import type { Topology } from '../policy/topology.js';

/** Where the two paths without an egress of their own go. */
export interface PathChoice {
  /** Rules documented on both paths (`either`); `--either`. */
  either: EgressPath;
  /** Destinations no rule matches: the topology's `default` (`unknown` counts as `internet`). */
  unknown: EgressPath;
}

/**
 * `either` defaults to the circuit: both paths are documented, the circuit one gives the verdict
 * `ok` instead of `exception`, and it keeps the service's data interactions on the circuit.
 */
export const defaultEither: EgressPath = 'expressroute';

export function pathChoice(topology: Topology, either: EgressPath = defaultEither): PathChoice {
  // The circuit advertises only Microsoft prefixes, so a destination nothing places cannot be sent
  // there; a topology that leaves `default` unknown still sends it to the Internet edge.
  return { either, unknown: topology.default === 'expressroute' ? 'expressroute' : 'internet' };
}

export function egressOf(path: ExpectedPath, choice: PathChoice): EgressPath {
  switch (path) {
    case 'expressroute':
    case 'internet':
      return path;
    case 'either':
      return choice.either;
    case 'unknown':
      return choice.unknown;
    case 'not-covered':
      // destinationTable refuses uncovered components before any decision gets here.
      throw new PathwardenError('PW_ERR_GENERATE_INVALID', 'a not-covered decision has no egress path');
  }
}

/** One line per path saying how it leaves, for the headers of generated files. */
export function describeEgress(topology: Topology, path: EgressPath): string {
  const egress = topology[path];
  const parts: string[] = [];
  if (egress.proxies.length > 0) parts.push(`proxy ${egress.proxies.join(', ')}`);
  if (egress.sourceAddresses.length > 0) parts.push(`source address ${egress.sourceAddresses.join(', ')}`);
  return parts.length > 0 ? parts.join('; ') : 'direct (no proxy or source address in the topology)';
}
