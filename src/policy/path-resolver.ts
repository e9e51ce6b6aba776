// The topology as the audit uses it, and the PathResolver that answers "which path did this flow
// take?" from it. Kept apart from the topology's schema (topology.ts, which loads zod and the YAML
// parser) so that the audit's start-up and its worker threads load neither when the topology file
// is well-formed (topology-file.ts).
import type { EgressPath } from '../catalog/model.js';
import {
  formatIp,
  type IpAddress,
  type IpPrefix,
  parseIp,
  parsePrefix,
  unmapIPv4,
  writeIPv4,
} from '../match/ip.js';
import { PrefixTrie } from '../match/prefix-trie.js';
import { privateRangeOf } from '../match/private-ranges.js';

/** One path's evidence in a topology (docs/topology.md); topology.ts validates it. */
export interface TopologyEgress {
  /** CIDR prefixes reached over this path (for the circuit: what the route filter advertises). */
  prefixes: string[];
  /** Upstream proxies (host:port) that carry this path. */
  proxies: string[];
  /** Local source addresses used for this path (policy routing with `ip rule from`). */
  sourceAddresses: string[];
}

/** A validated topology (docs/topology.md), as topology.ts's schema outputs it. */
export interface Topology {
  expressroute: TopologyEgress;
  internet: TopologyEgress;
  /** Path of traffic that none of the evidence above places: `internet` on most networks. */
  default: 'expressroute' | 'internet' | 'unknown';
  /** Azure region of the Power BI tenant, for route-filter guidance (e.g. westeurope). */
  region?: string | undefined;
}

/** The topology used when none is given: nothing is known, so actual paths stay unknown. */
export const emptyTopology: Topology = {
  expressroute: { prefixes: [], proxies: [], sourceAddresses: [] },
  internet: { prefixes: [], proxies: [], sourceAddresses: [] },
  default: 'unknown',
};

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
    writeIPv4(value, address.bytes);
    const match = this.#prefixes.lookup(address, 0);
    if (match) return match.path;
    if (privateRangeOf(address)) return 'unknown';
    return this.topology.default;
  }
}
