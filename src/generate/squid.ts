// `generate squid`: a squid.conf fragment that sends each request out on its path: through the
// path's parent proxy (cache_peer, with never_direct so circuit-bound traffic fails closed when
// the circuit's proxy is down) and/or from the path's source address (tcp_outgoing_address),
// and logs the path of every request.
import type { EgressPath } from '../catalog/model.js';
import { PathwardenError } from '../errors.js';
import type { HostPattern } from '../match/host.js';
import { parseIp } from '../match/ip.js';
import type { Policy } from '../policy/policy.js';
import type { Topology } from '../policy/topology.js';
import { splitHostPort } from '../util/host-port.js';
import {
  comment,
  type GenerateContext,
  type GenerateOptions,
  headerLines,
  prepare,
  type RoutedHost,
  ruleLabel,
} from './context.js';
import { displayOrder, hostPatternCovers, specificityOrder } from './destinations.js';
import { precedenceBlocks } from './precedence.js';
import { routeOf, singleEgress } from './routes.js';

export interface SquidOptions extends GenerateOptions {
  /** `access_log` destination of the path-recording log. */
  accessLog?: string;
}

export const defaultSquidAccessLog = 'daemon:/var/log/squid/pathwarden.log';

const paths: readonly EgressPath[] = ['expressroute', 'internet'];

interface SquidEntry {
  pattern: HostPattern;
  text: string;
  egress: EgressPath;
  /** Comment: the rule that decided it (apex entries say so). */
  note: string;
}

interface Step {
  acl: string;
  egress: EgressPath;
  entries: SquidEntry[];
}

export function generateSquid(policy: Policy, topology: Topology, options: SquidOptions = {}): string {
  const context = prepare(policy, topology, options);
  const circuit = topology.expressroute;
  if (circuit.proxies.length === 0 && circuit.sourceAddresses.length === 0) {
    throw new PathwardenError(
      'PW_ERR_GENERATE_INVALID',
      'squid needs an egress for circuit-bound traffic: give expressroute.proxies or expressroute.sourceAddresses in the topology',
    );
  }
  requireBothFamilies(circuit.proxies, circuit.sourceAddresses);
  const steps = squidSteps(context);
  const membership = (egress: EgressPath) => membershipLines(steps, egress, context.choice.unknown);

  const out: string[] = [
    comment('#', [
      ...headerLines(
        context,
        context.component,
        'pathwarden squid.conf fragment: the egress of each request',
        'squid',
      ),
      'Include it before your http_access rules (Debian: /etc/squid/conf.d/pathwarden.conf). It grants no access.',
      '',
      'Squid\'s dstdomain ".x" matches x and every name under it, while the catalog\'s "*.x" never matches x:',
      "an apex whose path differs from its wildcard's is listed as an exact name in an earlier step.",
      'IP-literal requests take the default: a dst ACL would resolve names, which decide() never does, and every',
      'dstdomain ACL has -n, so Squid never reverse-resolves an IP literal (a PTR record cannot choose its path).',
    ]),
    '',
    '# Destinations in steps: a request belongs to the first step that matches it.',
  ];
  for (const step of steps) {
    for (const [note, entries] of groupBy(step.entries, (entry) => entry.note)) {
      out.push(`# ${note}`);
      // -n: no reverse DNS of IP-literal requests (a PTR record would choose their path).
      out.push(`acl ${step.acl} dstdomain -n ${entries.map(dstdomain).join(' ')}`);
    }
  }

  out.push('', '# The path of each request, for the access log.');
  for (const egress of paths) {
    for (const line of membership(egress)) out.push(`note pathwarden-path ${egress} ${line}`);
  }

  for (const egress of paths) {
    const { proxies, sourceAddresses } = topology[egress];
    out.push('', `# ${egress}`);
    if (proxies.length > 0) {
      const peers = proxies.map((proxy, i) => ({ proxy, name: `pw_${egress}_${i + 1}` }));
      for (const { proxy, name } of peers) {
        const { host, port } = splitHostPort(proxy);
        out.push(`cache_peer ${host} parent ${port} 0 no-query no-digest no-netdb-exchange name=${name}`);
      }
      for (const { name } of peers) {
        for (const line of membership(egress)) out.push(`cache_peer_access ${name} allow ${line}`);
        out.push(`cache_peer_access ${name} deny all`);
      }
      out.push(
        egress === 'expressroute'
          ? '# Fail closed: when the circuit proxy is down, Squid answers with an error instead of going direct.'
          : '# Only through the Internet proxy, never direct.',
      );
      for (const line of membership(egress)) out.push(`never_direct allow ${line}`);
    } else {
      out.push('# No proxy for this path in the topology: direct, never through a parent.');
      for (const line of membership(egress)) out.push(`always_direct allow ${line}`);
    }
    // With a parent, the only connection Squid makes for the path is to the parent: it must not
    // leave from the path's source address (`ip rule from` would send it into the circuit table).
    if (proxies.length === 0) {
      for (const address of sourceAddresses) {
        for (const line of membership(egress)) out.push(`tcp_outgoing_address ${address} ${line}`);
      }
    } else if (sourceAddresses.length > 0) {
      out.push(
        `# Source addresses ${sourceAddresses.join(', ')} unused: requests of this path go to its parent.`,
      );
    }
  }

  out.push(
    '',
    '# Access log with the path (note), the peer or origin (%Sh/%<a) and the local address used (%<la).',
    'logformat pathwarden %ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt path=%{pathwarden-path}note local=%<la',
    `access_log ${options.accessLog ?? defaultSquidAccessLog} logformat=pathwarden`,
  );
  return `${out.join('\n')}\n`;
}

/**
 * Squid picks the tcp_outgoing_address of the destination's family; without one it uses the
 * system's default source, which no `ip rule from` sends to the circuit: a circuit-bound name that
 * resolves to that family would go out of the Internet.
 */
function requireBothFamilies(proxies: readonly string[], sourceAddresses: readonly string[]): void {
  if (proxies.length > 0 || sourceAddresses.length === 0) return;
  for (const version of [4, 6] as const) {
    if (!sourceAddresses.some((address) => parseIp(address)?.version === version)) {
      throw new PathwardenError(
        'PW_ERR_GENERATE_INVALID',
        `squid sends circuit-bound requests from expressroute.sourceAddresses, which has no IPv${version} address: a name that resolves to IPv${version} would leave from the default source and skip \`ip rule from\`, i.e. go to the Internet. Add an IPv${version} circuit source address, or give the circuit a proxy`,
      );
    }
  }
}

/** First-match steps over Squid's domain semantics, with apex names added where they differ. */
function squidSteps(context: GenerateContext): Step[] {
  const egressOf = (host: RoutedHost) => singleEgress(host.route, host.text, 'squid');
  const entries: SquidEntry[] = context.hosts.map((host) => ({
    pattern: host.pattern,
    text: host.text,
    egress: egressOf(host),
    note: ruleLabel(host.decisions.any.ruleId, host.decisions.any.path, egressOf(host)),
  }));
  const exact = new Set(entries.filter((entry) => entry.pattern.kind === 'exact').map((entry) => entry.text));
  for (const entry of [...entries]) {
    if (entry.pattern.kind !== 'wildcard' || exact.has(entry.pattern.suffix)) continue;
    const apex = entry.pattern.suffix;
    const decisions = context.table.decideName(apex);
    const egress = singleEgress(routeOf(decisions, context.choice), apex, 'squid');
    if (egress === entry.egress) continue;
    entries.push({
      pattern: { kind: 'exact', name: apex },
      text: apex,
      egress,
      note: `${ruleLabel(decisions.any.ruleId, decisions.any.path, egress)}, apex of ${entry.text}`,
    });
  }
  entries.sort((a, b) => specificityOrder(a.pattern, b.pattern));
  // Precedence under Squid's semantics, where ".x" also covers x: an apex entry must come first.
  const blocks = precedenceBlocks(entries, squidCovers, (entry) => entry.egress);
  return blocks.map((block, i) => ({
    acl: `pw_${i + 1}_${block.key}`,
    egress: block.key as EgressPath,
    // ".x" also matches x: an entry another entry of its step matches adds nothing (Squid warns).
    entries: block.entries
      .filter((entry) => !block.entries.some((other) => other !== entry && squidCovers(other, entry)))
      .sort(displayOrder),
  }));
}

function dstdomain(entry: SquidEntry): string {
  return entry.pattern.kind === 'exact' ? entry.pattern.name : `.${entry.pattern.suffix}`;
}

/** True when Squid's dstdomain for `general` matches every name of `specific`. */
function squidCovers(general: SquidEntry, specific: SquidEntry): boolean {
  if (general.pattern.kind !== 'wildcard') return false;
  const name = specific.pattern.kind === 'exact' ? specific.pattern.name : specific.pattern.suffix;
  return name === general.pattern.suffix || hostPatternCovers(general.pattern, specific.pattern);
}

function overlaps(a: Step, b: Step): boolean {
  return a.entries.some((x) =>
    b.entries.some((y) => x.text === y.text || squidCovers(x, y) || squidCovers(y, x)),
  );
}

/**
 * ACL lines (each an AND of ACL names) that match exactly the requests whose first matching
 * step has `egress`, or that match no step when `egress` is the default. Every directive that
 * acts on a path uses these lines, so they all agree, whatever their own first-match order.
 */
function membershipLines(steps: readonly Step[], egress: EgressPath, fallback: EgressPath): string[] {
  const lines: string[] = [];
  steps.forEach((step, i) => {
    if (step.egress !== egress) return;
    const shadows = steps
      .slice(0, i)
      .filter((earlier) => earlier.egress !== egress && overlaps(earlier, step));
    lines.push([step.acl, ...shadows.map((earlier) => `!${earlier.acl}`)].join(' '));
  });
  if (fallback === egress) {
    const others = steps.filter((step) => step.egress !== egress);
    lines.push(others.length > 0 ? others.map((step) => `!${step.acl}`).join(' ') : 'all');
  }
  return lines;
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const list = groups.get(key(item));
    if (list) list.push(item);
    else groups.set(key(item), [item]);
  }
  return groups;
}
