// The topology says how to tell which path a flow actually took: the prefixes the circuit
// advertises, the upstream proxies and local source addresses of each egress, and the path of
// everything else. Shared by audit (actual path of logged flows) and the generators (where to send
// each path). Documented in docs/topology.md.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { PathwardenError, type Problem } from '../errors.js';
import { parseLocatedYaml } from '../util/located-yaml.js';
import type { Topology } from './path-resolver.js';
import { hostPortPattern, isAddress, isCidr } from './topology-file.js';

export {
  type ActualPathResult,
  emptyTopology,
  type PathEvidence,
  PathResolver,
  type Topology,
  type TopologyEgress,
} from './path-resolver.js';

const hostPort = z.string().regex(hostPortPattern, 'expected host:port (IPv6 in brackets)');

const cidr = z.string().refine(isCidr, {
  message: 'expected an IPv4 or IPv6 CIDR prefix with no host bits set, e.g. 10.9.0.0/16',
});
const address = z.string().refine(isAddress, {
  message: 'expected an IPv4 or IPv6 address',
});

const egressSchema = z
  .strictObject({
    /** CIDR prefixes reached over this path (for the circuit: what the route filter advertises). */
    prefixes: z.array(cidr).default([]),
    /** Upstream proxies (host:port) that carry this path. */
    proxies: z.array(hostPort).default([]),
    /** Local source addresses used for this path (policy routing with `ip rule from`). */
    sourceAddresses: z.array(address).default([]),
  })
  .default({ prefixes: [], proxies: [], sourceAddresses: [] });

export const topologySchema = z.strictObject({
  expressroute: egressSchema,
  internet: egressSchema,
  /** Path of traffic that none of the evidence above places: `internet` on most networks. */
  default: z.enum(['expressroute', 'internet', 'unknown']).default('internet'),
  /** Azure region of the Power BI tenant, for route-filter guidance (e.g. westeurope). */
  region: z.string().optional(),
});

/** Holds while the schema's output and path-resolver.ts's `Topology` describe the same object. */
type Within<A extends B, B> = A;
export type TopologyMatchesSchema = [
  Within<z.output<typeof topologySchema>, Topology>,
  Within<Topology, z.output<typeof topologySchema>>,
];

export function parseTopology(text: string, file: string): { topology?: Topology; problems: Problem[] } {
  const parsed = parseLocatedYaml(text, file, topologySchema);
  const problems = [...parsed.problems];
  const topology = parsed.value;
  if (topology) {
    // A source address or proxy claimed by both paths makes every inference ambiguous.
    for (const field of ['proxies', 'sourceAddresses'] as const) {
      topology.internet[field].forEach((value, i) => {
        if (topology.expressroute[field].includes(value)) {
          problems.push({
            message: `${value} is listed for both paths`,
            location: parsed.locate(['internet', field, i]),
          });
        }
      });
    }
  }
  return problems.length > 0 ? { problems } : { topology: topology as Topology, problems };
}

export function loadTopologyFile(file: string): Topology {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new PathwardenError('PW_ERR_TOPOLOGY_INVALID', `cannot read topology ${file}: ${String(cause)}`, {
      cause,
    });
  }
  const { topology, problems } = parseTopology(text, file);
  if (!topology) {
    throw new PathwardenError(
      'PW_ERR_TOPOLOGY_INVALID',
      `topology ${file} has ${problems.length} problem(s)`,
      {
        problems,
      },
    );
  }
  return topology;
}
