// `generate nftables`: table inet pathwarden, whose chains mark packets to circuit-bound
// destinations with a fwmark that `generate iproute` routes to the circuit's table. Names decide
// before addresses, as in decide(): the name sets that dnsmasq fills come first, then the prefixes.
import { PathwardenError } from '../errors.js';
import { formatPrefix, type IpPrefix, parsePrefix } from '../match/ip.js';
import type { Policy } from '../policy/policy.js';
import type { Topology } from '../policy/topology.js';
import { comment, type GenerateOptions, headerLines, prepare } from './context.js';
import { prefixCovers, prefixDisplayOrder } from './destinations.js';
import {
  hex,
  type MarkOptions,
  nftSets,
  nftTable,
  requireInternetDefault,
  resolvedMarks,
} from './policy-routing.js';
import { singleEgress } from './routes.js';

export interface NftablesOptions extends GenerateOptions, MarkOptions {}

interface PrefixSource {
  prefix: IpPrefix;
  text: string;
}

export function generateNftables(policy: Policy, topology: Topology, options: NftablesOptions = {}): string {
  const context = prepare(policy, topology, options);
  requireInternetDefault(context, 'nftables');
  const { fwmark } = resolvedMarks(options);

  // Circuit prefixes: what the topology says the circuit advertises, and the catalog's
  // circuit-bound prefixes. Catalog Internet prefixes matter only where they carve a hole in those.
  const circuit: PrefixSource[] = topology.expressroute.prefixes.map((text) => ({
    prefix: parsePrefix(text) as IpPrefix,
    text: formatPrefix(parsePrefix(text) as IpPrefix),
  }));
  const holes: PrefixSource[] = [];
  for (const entry of context.prefixes) {
    const egress = singleEgress(entry.route, entry.text, 'nftables');
    (egress === 'expressroute' ? circuit : holes).push({ prefix: entry.prefix, text: entry.text });
  }
  const carved = holes.filter((hole) => circuit.some((c) => prefixCovers(c.prefix, hole.prefix)));
  for (const hole of carved) {
    const inside = circuit.find((c) => prefixCovers(hole.prefix, c.prefix));
    if (inside) {
      throw new PathwardenError(
        'PW_ERR_GENERATE_INVALID',
        `nftables nests prefixes one level deep: ${inside.text} (expressroute) lies inside ${hole.text} (internet), itself inside a circuit prefix`,
      );
    }
  }

  const mark = `meta mark set meta mark or ${hex(fwmark)}`;
  const out: string[] = [
    '#!/usr/sbin/nft -f',
    comment('#', [
      ...headerLines(
        context,
        context.component,
        'pathwarden nftables ruleset: mark circuit-bound packets',
        'nftables',
      ),
      `Packets to circuit-bound destinations get fwmark ${hex(fwmark)}; \`generate iproute\` sends them to the circuit's table.`,
      'Order, as in decide(): names first (sets filled by dnsmasq from `generate dnsmasq`), then addresses.',
      'Loading replaces the table and empties the name sets: send dnsmasq SIGHUP afterwards so that they fill again.',
    ]),
    `table inet ${nftTable}`,
    `delete table inet ${nftTable}`,
    '',
    `table inet ${nftTable} {`,
    '\t# Addresses of circuit-bound names, added by dnsmasq as it answers.',
    ...set(nftSets.circuitNames4, 'ipv4_addr', []),
    ...set(nftSets.circuitNames6, 'ipv6_addr', []),
    '\t# Addresses of Internet exceptions, added by dnsmasq: never marked, even inside a circuit prefix.',
    ...set(nftSets.internetNames4, 'ipv4_addr', []),
    ...set(nftSets.internetNames6, 'ipv6_addr', []),
    "\t# Circuit prefixes: topology expressroute.prefixes and the catalog's circuit-bound prefixes.",
    ...set(nftSets.circuitPrefixes4, 'ipv4_addr', family(circuit, 4), true),
    ...set(nftSets.circuitPrefixes6, 'ipv6_addr', family(circuit, 6), true),
    '\t# Catalog Internet prefixes inside a circuit prefix.',
    ...set(nftSets.internetPrefixes4, 'ipv4_addr', family(carved, 4), true),
    ...set(nftSets.internetPrefixes6, 'ipv6_addr', family(carved, 6), true),
    '',
    '\tchain classify {',
    `\t\tip daddr @${nftSets.circuitNames4} counter ${mark} return`,
    `\t\tip6 daddr @${nftSets.circuitNames6} counter ${mark} return`,
    `\t\tip daddr @${nftSets.internetNames4} counter return`,
    `\t\tip6 daddr @${nftSets.internetNames6} counter return`,
    `\t\tip daddr @${nftSets.internetPrefixes4} counter return`,
    `\t\tip6 daddr @${nftSets.internetPrefixes6} counter return`,
    `\t\tip daddr @${nftSets.circuitPrefixes4} counter ${mark} return`,
    `\t\tip6 daddr @${nftSets.circuitPrefixes6} counter ${mark} return`,
    '\t}',
    '',
    '\t# Traffic this router forwards for clients.',
    '\tchain prerouting {',
    '\t\ttype filter hook prerouting priority mangle; policy accept;',
    '\t\tjump classify',
    '\t}',
    '',
    '\t# Traffic of local programs (a proxy on this host): a route chain re-routes after marking.',
    '\tchain output {',
    '\t\ttype route hook output priority mangle; policy accept;',
    '\t\tjump classify',
    '\t}',
    '}',
  ];
  return `${out.join('\n')}\n`;
}

function family(sources: readonly PrefixSource[], version: 4 | 6): string[] {
  return sources
    .filter((source) => source.prefix.version === version)
    .sort(prefixDisplayOrder)
    .map((source) => source.text);
}

function set(name: string, type: string, elements: readonly string[], interval = false): string[] {
  const lines = [`\tset ${name} {`, `\t\ttype ${type}`];
  // auto-merge: overlapping prefixes (topology and catalog) would otherwise be rejected.
  if (interval) lines.push('\t\tflags interval', '\t\tauto-merge');
  if (elements.length > 0) {
    const rows: string[] = [];
    let row = '';
    for (const element of elements) {
      if (row !== '' && row.length + element.length > 96) {
        rows.push(row);
        row = '';
      }
      row += row === '' ? element : `, ${element}`;
    }
    rows.push(row);
    lines.push(`\t\telements = { ${rows.join(',\n\t\t\t     ')} }`);
  }
  lines.push('\t}');
  return lines;
}
