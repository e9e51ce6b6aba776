// The topology says how to tell which path a flow actually took: the prefixes the circuit
// advertises, the upstream proxies and local source addresses of each egress, and the path of
// everything else. Shared by audit (actual path of logged flows) and the generators (where to send
// each path). Documented in docs/topology.md.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { EgressPath } from '../catalog/model.js';
import { PathwardenError, type Problem } from '../errors.js';
import { formatIp, type IpAddress, type IpPrefix, parseIp, parsePrefix, unmapIPv4 } from '../match/ip.js';
import { PrefixTrie } from '../match/prefix-trie.js';
import { privateRangeOf } from '../match/private-ranges.js';
import { parseLocatedYaml } from '../util/located-yaml.js';

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'expected host:port (IPv6 in brackets)');

const cidr = z.string().refine((text) => typeof parsePrefix(text) !== 'string', {
  message: 'expected an IPv4 or IPv6 CIDR prefix with no host bits set, e.g. 10.9.0.0/16',
});
const address = z.string().refine((text) => parseIp(text) !== undefined, {
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

export type Topology = z.output<typeof topologySchema>;

/** The topology used when none is given: nothing is known, so actual paths stay unknown. */
export const emptyTopology: Topology = topologySchema.parse({ default: 'unknown' });

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

/** What a log record tells about how a flow left the network; any field may be missing. */
export interface PathEvidence {
  /** Address the flow was sent to (the origin, or the next hop proxy when `proxy` is unset). */
  destination?: IpAddress;
  /** Local source address of the outbound connection. */
  source?: IpAddress;
  /** Upstream proxy (host or host:port) the flow was handed to, e.g. Squid's FIRSTUP_PARENT peer. */
  proxy?: string;
}

export interface ActualPathResult {
  path: EgressPath | 'unknown';
  /** Why: e.g. `proxy 10.9.0.1:3128`, `source 10.20.0.5`, `prefix 13.73.248.0/24`, `default`. */
  evidence: string;
}

/** Answers "which path did this flow take?" from a topology; compiled once, pure afterwards. */
export class PathResolver {
  readonly topology: Topology;
  readonly #proxies = new Map<string, EgressPath>();
  readonly #sources = new Map<string, EgressPath>();
  readonly #prefixes = new PrefixTrie<{ path: EgressPath; text: string }>(1);

  constructor(topology: Topology) {
    this.topology = topology;
    for (const path of ['expressroute', 'internet'] as const) {
      const egress = topology[path];
      for (const proxy of egress.proxies) {
        const lower = proxy.toLowerCase();
        this.#proxies.set(lower, path);
        // Logs often name the peer without its port (Squid: FIRSTUP_PARENT/10.9.0.1).
        this.#proxies.set(lower.slice(0, lower.lastIndexOf(':')).replace(/^\[|\]$/g, ''), path);
      }
      for (const text of egress.sourceAddresses) {
        const parsed = parseIp(text);
        if (parsed) this.#sources.set(formatIp(unmapIPv4(parsed)), path);
      }
      for (const text of egress.prefixes) {
        const prefix = parsePrefix(text) as IpPrefix;
        this.#prefixes.set(prefix, 0, { path, text });
      }
    }
  }

  resolve(evidence: PathEvidence): ActualPathResult {
    if (evidence.proxy !== undefined) {
      const path = this.#proxies.get(evidence.proxy.toLowerCase());
      if (path) return { path, evidence: `proxy ${evidence.proxy}` };
    }
    if (evidence.source !== undefined) {
      const text = formatIp(unmapIPv4(evidence.source));
      const path = this.#sources.get(text);
      if (path) return { path, evidence: `source ${text}` };
    }
    if (evidence.destination !== undefined) {
      const destination = unmapIPv4(evidence.destination);
      const match = this.#prefixes.lookup(destination, 0);
      if (match) return { path: match.path, evidence: `prefix ${match.text}` };
      // A private address is a VNet, a private endpoint or this host: never the Internet, and
      // only the circuit when the topology lists it (docs/topology.md, "Private destinations").
      const range = privateRangeOf(destination);
      if (range) {
        return {
          path: 'unknown',
          evidence: `private destination ${formatIp(destination)} (${range.name}), not listed in the topology`,
        };
      }
      if (this.topology.default !== 'unknown') return { path: this.topology.default, evidence: 'default' };
    }
    return { path: 'unknown', evidence: 'no evidence' };
  }

  readonly #address4: IpAddress = { version: 4, bytes: new Uint8Array(4) };

  /**
   * The path `resolve({ destination })` gives an IPv4 destination (its 32-bit value), without the
   * evidence text: for the audit's fast path, which counts flows without their records.
   */
  destinationPath4(value: number): EgressPath | 'unknown' {
    const address = this.#address4;
    const bytes = address.bytes;
    bytes[0] = value >>> 24;
    bytes[1] = (value >>> 16) & 0xff;
    bytes[2] = (value >>> 8) & 0xff;
    bytes[3] = value & 0xff;
    const match = this.#prefixes.lookup(address, 0);
    if (match) return match.path;
    if (privateRangeOf(address)) return 'unknown';
    return this.topology.default;
  }
}
