// `generate iproute`: the `ip rule` / `ip route` commands that send packets marked by `generate
// nftables` (and packets from the circuit's source addresses) to the circuit's routing table,
// whose last route is `unreachable` so that circuit-bound traffic fails closed when the circuit's
// route is gone instead of falling through to the main table (the Internet).
import { PathwardenError } from '../errors.js';
import { parseIp } from '../match/ip.js';
import type { Policy } from '../policy/policy.js';
import type { Topology } from '../policy/topology.js';
import { comment, type GenerateOptions, headerLines, prepare } from './context.js';
import { hex, type MarkOptions, requireInternetDefault, resolvedMarks } from './policy-routing.js';

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
  const priorities = [priority, ...sources.map((_, i) => priority + 1 + i)];

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
      'the circuit source addresses use it. Running the script again replaces what it added.',
    ]),
    'set -e',
    '',
    // `route flush` leaves IPv6 unreachable routes in place: routes below use `replace`.
    '# Remove what an earlier run added (same priorities, same table); routes are replaced.',
    ...priorities.flatMap((p) =>
      [4, 6].map((v) => `while ip -${v} rule del priority ${p} 2>/dev/null; do :; done`),
    ),
    `ip -4 route flush table ${table} 2>/dev/null || true`,
    `ip -6 route flush table ${table} 2>/dev/null || true`,
    '',
    `# Marked packets (nftables, set bit ${hex(fwmark)}) look up the circuit table.`,
    `ip -4 rule add fwmark ${hex(fwmark)}/${hex(fwmark)} lookup ${table} priority ${priority}`,
    `ip -6 rule add fwmark ${hex(fwmark)}/${hex(fwmark)} lookup ${table} priority ${priority}`,
  ];
  if (sources.length > 0) {
    out.push('', '# The circuit egress source addresses (topology expressroute.sourceAddresses).');
    sources.forEach((source, i) => {
      out.push(
        `ip -${source.version} rule add from ${source.text} lookup ${table} priority ${priority + 1 + i}`,
      );
    });
  }
  out.push('', '# The circuit route.');
  if (options.via !== undefined)
    out.push(`ip -4 route replace default via ${options.via}${dev} table ${table}`);
  else out.push('# No IPv4 next hop (--via): circuit-bound IPv4 traffic is dropped by the route below.');
  if (options.via6 !== undefined)
    out.push(`ip -6 route replace default via ${options.via6}${dev} table ${table}`);
  else out.push('# No IPv6 next hop (--via6): circuit-bound IPv6 traffic is dropped by the route below.');
  out.push(
    '',
    '# Fail closed: without the circuit route, circuit-bound traffic is unreachable, never sent to the Internet.',
    `ip -4 route replace unreachable default metric ${lastMetric} table ${table}`,
    `ip -6 route replace unreachable default metric ${lastMetric} table ${table}`,
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
