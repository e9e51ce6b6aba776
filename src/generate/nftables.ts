// `generate nftables`: table inet pathwarden, whose chains mark packets to circuit-bound
// destinations with a fwmark that `generate iproute` routes to the circuit's table. Names decide
// before addresses, as in decide(): the name sets that dnsmasq fills come first, then the prefixes.
import { PathwardenError } from '../errors.js';
import { formatPrefix, type IpPrefix, parseIp, parsePrefix } from '../match/ip.js';
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
  const prefixSets = [
    { name: nftSets.circuitPrefixes4, type: 'ipv4_addr', elements: family(circuit, 4) },
    { name: nftSets.circuitPrefixes6, type: 'ipv6_addr', elements: family(circuit, 6) },
    { name: nftSets.internetPrefixes4, type: 'ipv4_addr', elements: family(carved, 4) },
    { name: nftSets.internetPrefixes6, type: 'ipv6_addr', elements: family(carved, 6) },
  ];
  const chains = ['classify', 'prerouting', 'output', 'postrouting'];
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
      'Loading it again is one atomic transaction that keeps the name sets dnsmasq filled (its cached answers',
      'stay marked) and refills only the chains and the prefix sets: no packet sees a half-loaded table.',
      'Circuit-bound name sets never expire (a stale address fails closed; an expired one would leak while a',
      'client still caches the name); Internet-exception name sets expire after 1h (the prefixes decide then).',
    ]),
    '# Creates what is missing; existing sets keep their elements.',
    `table inet ${nftTable} {`,
    '\t# Addresses of circuit-bound names, added by dnsmasq as it answers.',
    ...set(nftSets.circuitNames4, 'ipv4_addr', { size: circuitNamesSize }),
    ...set(nftSets.circuitNames6, 'ipv6_addr', { size: circuitNamesSize }),
    '\t# Addresses of Internet exceptions, added by dnsmasq: never marked, even inside a circuit prefix.',
    ...set(nftSets.internetNames4, 'ipv4_addr', { size: internetNamesSize, timeout: internetNamesTimeout }),
    ...set(nftSets.internetNames6, 'ipv6_addr', { size: internetNamesSize, timeout: internetNamesTimeout }),
    ...prefixSets.flatMap((prefixSet) => set(prefixSet.name, prefixSet.type, { interval: true })),
    ...chains.flatMap((chain) => [`\tchain ${chain} {`, ...chainHead(chain), '\t}']),
    '}',
    '# Refilled: the prefix sets and every chain.',
    ...prefixSets.map((prefixSet) => `flush set inet ${nftTable} ${prefixSet.name}`),
    ...chains.map((chain) => `flush chain inet ${nftTable} ${chain}`),
    '',
    `table inet ${nftTable} {`,
    "\t# Circuit prefixes: topology expressroute.prefixes and the catalog's circuit-bound prefixes.",
    ...set(nftSets.circuitPrefixes4, 'ipv4_addr', { interval: true, elements: prefixSets[0]?.elements }),
    ...set(nftSets.circuitPrefixes6, 'ipv6_addr', { interval: true, elements: prefixSets[1]?.elements }),
    '\t# Catalog Internet prefixes inside a circuit prefix.',
    ...set(nftSets.internetPrefixes4, 'ipv4_addr', { interval: true, elements: prefixSets[2]?.elements }),
    ...set(nftSets.internetPrefixes6, 'ipv6_addr', { interval: true, elements: prefixSets[3]?.elements }),
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
    '\t\tjump classify',
    '\t}',
    '',
    '\t# Traffic of local programs (a proxy on this host): a route chain re-routes after marking.',
    '\tchain output {',
    '\t\tjump classify',
    '\t}',
    '',
    '\t# Local programs chose their source address by the main table (the Internet) before the mark',
    "\t# re-routed them: their circuit-bound packets leave from the circuit's source address instead.",
    '\tchain postrouting {',
    ...localSource(topology.expressroute.sourceAddresses, fwmark),
    '\t}',
    '}',
  ];
  return `${out.join('\n')}\n`;
}

/** Circuit-bound name sets: large, since an address that cannot be added is not marked. */
const circuitNamesSize = 262144;
const internetNamesSize = 65536;
const internetNamesTimeout = '1h';

function chainHead(chain: string): string[] {
  switch (chain) {
    case 'prerouting':
      return ['\t\ttype filter hook prerouting priority mangle; policy accept;'];
    case 'output':
      return ['\t\ttype route hook output priority mangle; policy accept;'];
    case 'postrouting':
      return ['\t\ttype nat hook postrouting priority srcnat; policy accept;'];
    default:
      return [];
  }
}

/** SNAT to the topology's circuit source address of each family, or the circuit interface's address. */
function localSource(sourceAddresses: readonly string[], fwmark: number): string[] {
  const marked = `meta mark & ${hex(fwmark)} == ${hex(fwmark)} fib saddr type local`;
  return ([4, 6] as const).map((version) => {
    const address = sourceAddresses.find((text) => parseIp(text)?.version === version);
    const match = version === 4 ? 'ip' : 'ip6';
    return address === undefined
      ? `\t\tmeta nfproto ipv${version} ${marked} masquerade`
      : `\t\t${marked} ${match} saddr != ${address} snat ${match} to ${address}`;
  });
}

function family(sources: readonly PrefixSource[], version: 4 | 6): string[] {
  return sources
    .filter((source) => source.prefix.version === version)
    .sort(prefixDisplayOrder)
    .map((source) => source.text);
}

interface SetOptions {
  interval?: boolean;
  size?: number;
  timeout?: string;
  elements?: readonly string[];
}

function set(name: string, type: string, options: SetOptions): string[] {
  const lines = [`\tset ${name} {`, `\t\ttype ${type}`];
  // auto-merge: overlapping prefixes (topology and catalog) would otherwise be rejected.
  if (options.interval) lines.push('\t\tflags interval', '\t\tauto-merge');
  if (options.timeout !== undefined) lines.push('\t\tflags timeout', `\t\ttimeout ${options.timeout}`);
  if (options.size !== undefined) lines.push(`\t\tsize ${options.size}`);
  const elements = options.elements ?? [];
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
