// `generate pac`: a proxy auto-config file for browsers that agrees with decide() for one
// component. Pitfalls it avoids (docs/generate.md): shExpMatch is case-sensitive and its `*`
// crosses dots, a trailing dot defeats every pattern, dnsDomainIs is a label-unsafe suffix test,
// and DNS calls block the browser, so they appear only with --resolve-ip.
import { PathwardenError } from '../errors.js';
import { formatIp, type IpPrefix } from '../match/ip.js';
import type { Policy } from '../policy/policy.js';
import type { Topology } from '../policy/topology.js';
import {
  comment,
  type GenerateOptions,
  headerLines,
  prepare,
  type RoutedHost,
  type RoutedPrefix,
  ruleLabel,
} from './context.js';
import { displayOrder, hostPatternCovers, prefixCovers, prefixDisplayOrder } from './destinations.js';
import { precedenceBlocks } from './precedence.js';
import { type Route, routeKey } from './routes.js';

export interface PacOptions extends GenerateOptions {
  /** Place IPv4 literals, and names no pattern matches, by address: one dnsResolve + isInNet. */
  resolveIp?: boolean;
  /**
   * Answer `DIRECT` for circuit-bound destinations when the topology has no circuit proxy: only
   * where this network itself routes them to the circuit (`generate nftables` + `iproute`).
   */
  circuitDirect?: boolean;
}

/** Characters that mean only themselves in a shExpMatch pattern, besides the leading `*`. */
const plainPattern = /^[a-z0-9.-]+$/;

export function generatePac(policy: Policy, topology: Topology, options: PacOptions = {}): string {
  const context = prepare(policy, topology, options);
  if (topology.expressroute.proxies.length === 0 && !options.circuitDirect) {
    throw new PathwardenError(
      'PW_ERR_GENERATE_INVALID',
      'pac needs a circuit proxy (topology expressroute.proxies): without one, circuit-bound hosts would get DIRECT and leave by the default route, the Internet. Give --circuit-direct only where this network routes circuit-bound traffic to the circuit itself (generate nftables + iproute)',
    );
  }
  const prefixes = options.resolveIp ? context.prefixes.filter((prefix) => prefix.prefix.version === 4) : [];
  const needsPort =
    context.hosts.some((host) => host.route.byPort.size > 0) ||
    prefixes.some((prefix) => prefix.route.byPort.size > 0);
  const needsUnder = context.hosts.some(
    (host) => !plainPattern.test(host.pattern.kind === 'exact' ? host.pattern.name : host.pattern.suffix),
  );

  const out: string[] = [];
  out.push(
    comment('//', [
      ...headerLines(
        context,
        context.component,
        'pathwarden PAC file: which proxy each destination takes',
        'pac',
      ),
      'Patterns are tested most specific first (exact names, then the longest wildcard suffix), as decide() ranks them;',
      'a broader pattern comes only after every more specific one that answers differently.',
      ...(topology.expressroute.proxies.length === 0
        ? [
            '--circuit-direct: circuit-bound hosts get DIRECT; this network must route them to the circuit itself.',
          ]
        : []),
      ...(options.resolveIp
        ? ['--resolve-ip: IPv4 literals and names no pattern matches are placed by address (one dnsResolve).']
        : ['No DNS lookups: IP-literal hosts and names no pattern matches take the default.']),
    ]),
  );
  out.push('function FindProxyForURL(url, host) {');
  // Every proxy of a path, in the topology's order: the browser fails over along the list, and the
  // list never ends in DIRECT, so a circuit whose proxies are all down fails closed.
  out.push(`  var expressroute = ${JSON.stringify(pacProxy(topology.expressroute.proxies))};`);
  out.push(`  var internet = ${JSON.stringify(pacProxy(topology.internet.proxies))};`);
  out.push('');
  out.push(
    '  // shExpMatch is case-sensitive and a trailing dot defeats every pattern: compare the canonical name.',
  );
  out.push('  host = host.toLowerCase();');
  out.push('  if (host.charAt(host.length - 1) == ".") host = host.substring(0, host.length - 1);');
  if (needsPort) out.push('  var port = pathwardenPort(url);');

  const hostBlocks = precedenceBlocks(
    context.hosts,
    (a, b) => hostPatternCovers(a.pattern, b.pattern),
    (h) => routeKey(h.route),
  );
  for (const block of hostBlocks) {
    const entries = [...block.entries]
      .sort(displayOrder)
      .map((host) => ({ test: hostTest(host), note: entryNote(host) }));
    out.push('', ...conditionBlock(entries, (block.entries[0] as RoutedHost).route));
  }

  if (options.resolveIp && prefixes.length === 0) {
    out.push(
      '',
      '  // --resolve-ip: the catalog has no IPv4 prefix for this component, so no lookup is worth its delay.',
    );
  } else if (options.resolveIp) {
    out.push(
      '',
      '  // --resolve-ip: an IPv4 literal, or a name no pattern above matched, is placed by its address.',
      '  // One dnsResolve; isInNet on the resulting literal does not resolve again. IPv4 only.',
      '  var address = /^[0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+$/.test(host) ? host : host.indexOf(":") < 0 ? dnsResolve(host) : null;',
      '  if (address) {',
    );
    const sorted = [...prefixes].sort((a, b) => b.prefix.length - a.prefix.length);
    const prefixBlocks = precedenceBlocks(
      sorted,
      (a, b) => prefixCovers(a.prefix, b.prefix),
      (p) => routeKey(p.route),
    );
    for (const block of prefixBlocks) {
      const entries = [...block.entries]
        .sort(prefixDisplayOrder)
        .map((prefix) => ({ test: prefixTest(prefix.prefix), note: entryNote(prefix) }));
      out.push(...conditionBlock(entries, (block.entries[0] as RoutedPrefix).route, '  '));
    }
    out.push('  }');
  }

  out.push('', `  return ${context.choice.unknown}; // no rule matches: topology default`, '}');
  if (needsPort) out.push('', ...portHelper);
  if (needsUnder) out.push('', ...underHelper);
  return `${out.join('\n')}\n`;
}

function pacProxy(proxies: readonly string[]): string {
  return proxies.length === 0 ? 'DIRECT' : proxies.map((proxy) => `PROXY ${proxy}`).join('; ');
}

function entryNote(entry: RoutedHost | RoutedPrefix): string {
  const decision = entry.decisions.any;
  return ruleLabel(decision.ruleId, decision.path, entry.route.any);
}

/** `*.x` becomes shExpMatch(host, "*.x"): deep subdomains match (as in the model), the apex does not. */
function hostTest(host: RoutedHost): string {
  const { pattern } = host;
  const name = pattern.kind === 'exact' ? pattern.name : pattern.suffix;
  if (!plainPattern.test(name)) {
    // `_` is valid in catalog names but outside the PAC pattern alphabet: compare strings instead.
    return pattern.kind === 'exact'
      ? `host == ${JSON.stringify(name)}`
      : `pathwardenIsUnder(host, ${JSON.stringify(`.${name}`)})`;
  }
  return `shExpMatch(host, ${JSON.stringify(host.text)})`;
}

function prefixTest(prefix: IpPrefix): string {
  const mask = new Uint8Array(4);
  for (let bit = 0; bit < prefix.length; bit++)
    mask[bit >> 3] = (mask[bit >> 3] as number) | (0x80 >> (bit & 7));
  const network = prefix.bytes.map((byte, i) => byte & (mask[i] as number));
  return `isInNet(address, "${formatIp({ version: 4, bytes: network })}", "${formatIp({ version: 4, bytes: mask })}")`;
}

function conditionBlock(entries: { test: string; note: string }[], route: Route, indent = ''): string[] {
  const width = Math.max(...entries.map((entry) => entry.test.length)) + 3;
  const lines = entries.map((entry, i) => {
    const code = `${i === 0 ? 'if (' : '    '}${entry.test}${i === entries.length - 1 ? ') {' : ' ||'}`;
    return `${indent}  ${code.padEnd(width + 4)} // ${entry.note}`;
  });
  return [...lines, ...returnLines(route).map((line) => `${indent}    ${line}`), `${indent}  }`];
}

function returnLines(route: Route): string[] {
  // The PAC names its two return values after the paths, so an egress path is also a variable.
  const lines = [...route.byPort].map(([port, egress]) => `if (port == ${port}) return ${egress};`);
  return [...lines, `return ${route.any};`];
}

// Browsers pass the URL with its scheme; decide() gives URLs their scheme's default port.
const portHelper = [
  'function pathwardenPort(url) {',
  '  var m = /^([a-z][a-z0-9+.-]*):\\/\\/(?:[^\\/@]*@)?(\\[[^\\]]*\\]|[^:\\/]*)(?::([0-9]+))?/i.exec(url);',
  '  if (!m) return 80;',
  '  if (m[3]) return parseInt(m[3], 10);',
  '  var scheme = m[1].toLowerCase();',
  '  return scheme == "https" || scheme == "wss" ? 443 : scheme == "ftp" ? 21 : 80;',
  '}',
];

const underHelper = [
  '// True when host is one or more labels followed by suffix (suffix starts with a dot).',
  'function pathwardenIsUnder(host, suffix) {',
  '  return host.length > suffix.length && host.substring(host.length - suffix.length) == suffix;',
  '}',
];
