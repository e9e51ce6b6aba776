// Names and numbers shared by the three policy-routing generators (dnsmasq fills the nftables
// sets, nftables marks packets, `ip rule` sends marked packets to the circuit's table): they must
// agree, so they are defined once here.
import { PathwardenError } from '../errors.js';
import type { GenerateContext } from './context.js';

export const nftTable = 'pathwarden';

/** nftables sets; dnsmasq adds resolved addresses to the first four. */
export const nftSets = {
  circuitNames4: 'er4',
  circuitNames6: 'er6',
  internetNames4: 'inet4',
  internetNames6: 'inet6',
  circuitPrefixes4: 'er4_prefixes',
  circuitPrefixes6: 'er6_prefixes',
  internetPrefixes4: 'inet4_prefixes',
  internetPrefixes6: 'inet6_prefixes',
} as const;

export interface MarkOptions {
  /** Packet mark bit(s) meaning "circuit-bound". */
  fwmark?: number;
  /** Routing table of the circuit. */
  table?: number;
  /** `ip rule` priority of the first rule (before `main` at 32766). */
  priority?: number;
}

/**
 * `protocol` tag of the `ip rule`s and circuit routes that `generate iproute` installs: the script
 * removes only rules with this tag. 245 is unassigned in iproute2's rt_protos.
 */
export const rulesProtocol = 245;

export const defaultMarks = { fwmark: 0x100, table: 100, priority: 1000 } as const;

export function resolvedMarks(options: MarkOptions): Required<MarkOptions> {
  return {
    fwmark: options.fwmark ?? defaultMarks.fwmark,
    table: options.table ?? defaultMarks.table,
    priority: options.priority ?? defaultMarks.priority,
  };
}

export function hex(value: number): string {
  return `0x${value.toString(16)}`;
}

/**
 * These generators mark circuit-bound traffic and leave everything else to the main routing
 * table, which is the Internet edge. A topology whose default is the circuit would need the
 * opposite construction, which pathwarden does not generate.
 */
export function requireInternetDefault(context: GenerateContext, kind: string): void {
  if (context.choice.unknown !== 'internet') {
    throw new PathwardenError(
      'PW_ERR_GENERATE_INVALID',
      `${kind} marks circuit-bound traffic and leaves the rest to the main table: it needs a topology whose default is internet (or unknown), not expressroute`,
    );
  }
}
