// `generate iproute`: the `ip rule` / `ip route` commands that send packets marked by `generate
// nftables` (and packets from the circuit's source addresses) to the circuit's routing table,
// whose last route is `unreachable` so that circuit-bound traffic fails closed when the circuit's
// route is gone instead of falling through to the main table (the Internet).
import { PathwardenError } from '../errors.js';
import { parseIp } from '../match/ip.js';
import type { Policy } from '../policy/policy.js';
import type { Topology } from '../policy/topology.js';
import { comment, type GenerateOptions, headerLines, prepare } from './context.js';
import {
  hex,
  type MarkOptions,
  requireInternetDefault,
  resolvedMarks,
  rulesProtocol,
} from './policy-routing.js';

export interface IprouteOptions extends GenerateOptions, MarkOptions {
  /** IPv4 next hop towards the circuit (the ExpressRoute edge router). */
  via?: string;
  /** IPv6 next hop towards the circuit. */
  via6?: string;
  /** Interface towards the circuit. */
  dev?: string;
}

/** Highest route metric: the `unreachable` fallback never wins while a real route exists. */
const lastMetric = 4294967295;

export function generateIproute(policy: Policy, topology: Topology, options: IprouteOptions = {}): string {
  const context = prepare(policy, topology, options);
  requireInternetDefault(context, 'iproute');
  const { fwmark, table, priority } = resolvedMarks(options);
  if (options.via === undefined && options.via6 === undefined) {
    throw new PathwardenError(
      'PW_ERR_GENERATE_INVALID',
      'iproute needs the next hop towards the circuit: --via ADDRESS (IPv4) and/or --via6 ADDRESS (IPv6)',
    );
  }
  checkAddress(options.via, 4, '--via');
  checkAddress(options.via6, 6, '--via6');
  if (options.dev !== undefined && !/^[A-Za-z0-9_.:@-]{1,15}$/.test(options.dev)) {
    throw new PathwardenError('PW_ERR_GENERATE_INVALID', `--dev "${options.dev}" is not an interface name`);
  }
  const dev = options.dev === undefined ? '' : ` dev ${options.dev}`;
  const sources = topology.expressroute.sourceAddresses.map((text) => ({
    text,
    version: parseIp(text)?.version,
  }));
  const circuitRoutes = [
    { version: 4, via: options.via },
    { version: 6, via: options.via6 },
  ];

  const out = [
    '#!/bin/sh',
    comment('#', [
      ...headerLines(
        context,
        context.component,
        'pathwarden policy routing: circuit-bound traffic to the circuit table',
        'iproute',
      ),
      `Table ${table} holds the circuit route; packets marked ${hex(fwmark)} by \`generate nftables\` and packets from`,
      'the circuit source addresses use it. Fail closed by construction: the `unreachable` route is in the table',
      'before any rule points at it; rules and routes are replaced in place, never deleted and added again, so',
      'running the script again (under traffic) opens no gap. It touches only the routes it names in its table',
      `and the rules tagged \`protocol ${rulesProtocol}\` that look up the table.`,
      'Exit status 2: everything is applied but the circuit route could not be installed (link down or',
      'missing); circuit-bound traffic is dropped until the script runs again with the circuit up.',
    ]),
    'set -eu',
    'status=0',
    '',
    '# 1. Fail closed first: without the circuit route, circuit-bound traffic is unreachable, never sent',
    '#    to the Internet. Installed before any rule points at the table; the highest metric never wins.',
    `ip -4 route replace unreachable default metric ${lastMetric} table ${table}`,
    `ip -6 route replace unreachable default metric ${lastMetric} table ${table}`,
    '',
    '# 2. The circuit route, tagged with the protocol. A circuit link that is down or missing leaves the',
    '#    table unreachable: the script goes on, and says so.',
  ];
  for (const { version, via } of circuitRoutes) {
    if (via === undefined) {
      out.push(
        `# No IPv${version} next hop (--via${version === 6 ? '6' : ''}): circuit-bound IPv${version} traffic is dropped; a circuit route of an earlier run goes.`,
        `ip -${version} route del default table ${table} proto ${rulesProtocol} 2>/dev/null || true`,
      );
      continue;
    }
    out.push(
      `if ! ip -${version} route replace default via ${via}${dev} table ${table} proto ${rulesProtocol}; then`,
      `\techo "pathwarden: circuit route not installed (IPv${version} via ${via}${dev}): table ${table} stays unreachable" >&2`,
      '\tstatus=2',
      'fi',
    );
  }
  const rules = [
    { version: 4, selector: `fwmark ${hex(fwmark)}/${hex(fwmark)}`, priority },
    { version: 6, selector: `fwmark ${hex(fwmark)}/${hex(fwmark)}`, priority },
    ...sources.map((source, i) => ({
      version: source.version,
      selector: `from ${source.text}`,
      priority: priority + 1 + i,
    })),
  ];
  const show = (rule: (typeof rules)[number]) =>
    `ip -${rule.version} rule show priority ${rule.priority} ${rule.selector} lookup ${table}`;
  const tagged = `grep " proto ${rulesProtocol}$"`;
  out.push(
    '',
    '# 3. The rules, compare-and-apply: a rule already there is kept as it is, a missing one is added.',
  );
  rules.forEach((rule, i) => {
    if (i === 0) out.push(`# Marked packets (nftables, set bit ${hex(fwmark)}) look up the circuit table.`);
    if (i === 2) out.push('# The circuit egress source addresses (topology expressroute.sourceAddresses).');
    out.push(
      `${show(rule)} | ${tagged} >/dev/null ||`,
      `\tip -${rule.version} rule add ${rule.selector} lookup ${table} priority ${rule.priority} protocol ${rulesProtocol}`,
    );
  });
  out.push(
    '',
    '# 4. Rules of an earlier run that are no longer wanted (same tag, same table): removed last, so that',
    '#    the wanted ones are in place first. Rules without the tag are never touched.',
    'keep="',
    ...rules.map((rule) => `$(${show(rule)} | ${tagged} | sed "s/^/${rule.version} /")`),
    '"',
    'for family in 4 6; do',
    `\tip -"$family" rule show | grep " lookup ${table} proto ${rulesProtocol}$" | while IFS= read -r line; do`,
    '\t\tif printf \'%s\' "$keep" | grep -qxF "$family $line"; then continue; fi',
    `\t\tselector=$(printf '%s\\n' "\${line#*:}" | sed "s/ proto ${rulesProtocol}$//")`,
    '\t\t# shellcheck disable=SC2086 # the selector is split into the words ip printed',
    `\t\tip -"$family" rule del priority "\${line%%:*}" $selector protocol ${rulesProtocol}`,
    '\tdone',
    'done',
    'exit "$status"',
  );
  return `${out.join('\n')}\n`;
}

function checkAddress(text: string | undefined, version: 4 | 6, option: string): void {
  if (text !== undefined && parseIp(text)?.version !== version) {
    throw new PathwardenError(
      'PW_ERR_GENERATE_INVALID',
      `${option} "${text}" is not an IPv${version} address`,
    );
  }
}
