// `generate dnsmasq`: `nftset=` lines that make dnsmasq add the addresses it resolves for
// circuit-bound names to the nftables sets that `generate nftables` marks, and the addresses of
// the Internet exceptions to sets that are never marked. dnsmasq matches a domain and every name
// under it, the longest domain winning; the catalog does not, and the output says where that
// changes an answer.
import type { EgressPath } from '../catalog/model.js';
import type { Policy } from '../policy/policy.js';
import type { Topology } from '../policy/topology.js';
import { comment, type GenerateOptions, headerLines, prepare, ruleLabel } from './context.js';
import { nftSets, nftTable, requireInternetDefault } from './policy-routing.js';
import { routeOf, singleEgress } from './routes.js';

export type DnsmasqOptions = GenerateOptions;

interface DomainLine {
  domain: string;
  egress: EgressPath;
  /** Catalog patterns behind the line, with their rule. */
  sources: string[];
  /** Names the line sends elsewhere than decide() does. */
  differences: string[];
}

const setsOf: Record<EgressPath, string> = {
  expressroute: `4#inet#${nftTable}#${nftSets.circuitNames4},6#inet#${nftTable}#${nftSets.circuitNames6}`,
  internet: `4#inet#${nftTable}#${nftSets.internetNames4},6#inet#${nftTable}#${nftSets.internetNames6}`,
};

export function generateDnsmasq(policy: Policy, topology: Topology, options: DnsmasqOptions = {}): string {
  const context = prepare(policy, topology, options);
  requireInternetDefault(context, 'dnsmasq');
  const egressOfName = (name: string) =>
    singleEgress(routeOf(context.table.decideName(name), context.choice), name, 'dnsmasq');

  // dnsmasq cannot tell x from the names under it (its `/*.x/` form does not apply to nftset): one
  // line covers both. When they take different paths, the line takes the circuit, so that no
  // circuit-bound name ever lands in a set that is never marked; the others are reported.
  const egressOfPattern = new Map<string, EgressPath>();
  const sourcesOf = new Map<string, string[]>();
  for (const host of context.hosts) {
    const egress = singleEgress(host.route, host.text, 'dnsmasq');
    egressOfPattern.set(host.text, egress);
    const domain = host.pattern.kind === 'exact' ? host.pattern.name : host.pattern.suffix;
    const source = `${host.text}: ${ruleLabel(host.decisions.any.ruleId, host.decisions.any.path, egress)}`;
    sourcesOf.set(domain, [...(sourcesOf.get(domain) ?? []), source]);
  }
  const lines = new Map<string, DomainLine>();
  for (const [domain, sources] of sourcesOf) {
    const itself = egressOfPattern.get(domain) ?? egressOfName(domain);
    const under = egressOfPattern.get(`*.${domain}`) ?? egressOfName(`pathwarden-probe.${domain}`);
    const egress: EgressPath =
      itself === 'expressroute' || under === 'expressroute' ? 'expressroute' : 'internet';
    const differences: string[] = [];
    if (itself !== egress) differences.push(`${domain} itself (catalog: ${itself})`);
    if (under !== egress) differences.push(`names under ${domain} (catalog: ${under})`);
    lines.set(domain, { domain, egress, sources, differences });
  }

  // A line adds nothing when the nearest enclosing line already gives the same sets; what it
  // would have said about differences then belongs to that enclosing line.
  const needed: DomainLine[] = [];
  for (const line of [...lines.values()].sort((a, b) => b.domain.length - a.domain.length)) {
    const parent = enclosingLine(line.domain, lines);
    if (parent === undefined || parent.egress !== line.egress) needed.push(line);
    else parent.differences.push(...line.differences);
  }

  const out: string[] = [
    comment('#', [
      ...headerLines(
        context,
        context.component,
        'pathwarden dnsmasq fragment: fill the nftables sets of `generate nftables`',
        'dnsmasq',
      ),
      `Circuit-bound names go to sets ${nftSets.circuitNames4}/${nftSets.circuitNames6} (marked for the circuit), Internet exceptions to`,
      `${nftSets.internetNames4}/${nftSets.internetNames6} (never marked, even inside a circuit prefix), both in table inet ${nftTable}.`,
      'dnsmasq matches a domain, its apex included, and every name under it; the longest domain wins.',
      'The catalog\'s "*.x" never matches x, and its exact names never match the names under them: where x and',
      'the names under it take different paths, the line takes the circuit (fail closed: no circuit-bound name in',
      'an Internet set), and says so ("differs"). Names no line matches are not added to any set.',
      'dnsmasq fills the sets only from upstream answers: reloading the nftables ruleset keeps them.',
    ]),
  ];
  for (const egress of ['expressroute', 'internet'] as const) {
    out.push('', `# ${egress}`);
    for (const line of needed.filter((candidate) => candidate.egress === egress).sort(byDomain)) {
      out.push(`# ${line.sources.join('; ')}`);
      if (line.differences.length > 0) out.push(`# differs from the catalog: ${line.differences.join('; ')}`);
      out.push(`nftset=/${line.domain}/${setsOf[egress]}`);
    }
  }
  out.push(
    '',
    `# Names no rule matches take ${context.choice.unknown}: they stay out of the sets, and only an address in a circuit prefix marks them.`,
  );
  return `${out.join('\n')}\n`;
}

function enclosingLine(domain: string, lines: ReadonlyMap<string, DomainLine>): DomainLine | undefined {
  for (let dot = domain.indexOf('.'); dot >= 0; dot = domain.indexOf('.', dot + 1)) {
    const line = lines.get(domain.slice(dot + 1));
    if (line) return line;
  }
  return undefined;
}

/** Reversed labels, so that a domain sorts next to its parent. */
function byDomain(a: DomainLine, b: DomainLine): number {
  const key = (line: DomainLine) => line.domain.split('.').reverse().join('.');
  return key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;
}
