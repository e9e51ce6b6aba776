// `generate bundle`: every artefact for one topology in one directory, with `check.sh` (a dry run
// of each artefact by its real consumer, changing nothing on the host) and `apply.sh` (runs the
// check, then applies in fail-closed order: the circuit table before the marks, the sets before
// dnsmasq fills them).
import { PathwardenError } from '../errors.js';
import type { Policy } from '../policy/policy.js';
import type { Topology } from '../policy/topology.js';
import { comment, headerLines, prepare } from './context.js';
import { type GenerateKind, type GenerateRequest, generate } from './kinds.js';
import { resolvedMarks, rulesProtocol } from './policy-routing.js';

export interface BundleFile {
  name: string;
  text: string;
  executable: boolean;
}

export interface Bundle {
  files: BundleFile[];
  /** Kinds the topology cannot give, with the generator's reason. */
  skipped: { kind: GenerateKind; reason: string }[];
}

/** The artefacts of a bundle; the router's three are required, the others follow the topology. */
const artefacts: readonly { kind: GenerateKind; name: string; required: boolean }[] = [
  { kind: 'iproute', name: 'pathwarden-routes.sh', required: true },
  { kind: 'nftables', name: 'pathwarden.nft', required: true },
  { kind: 'dnsmasq', name: 'dnsmasq-pathwarden.conf', required: true },
  { kind: 'squid', name: 'squid-pathwarden.conf', required: false },
  { kind: 'pac', name: 'pathwarden.pac', required: false },
  { kind: 'allowlist', name: 'allowlist.txt', required: true },
  { kind: 'route-filter', name: 'route-filter.txt', required: false },
];

export function generateBundle(policy: Policy, topology: Topology, request: GenerateRequest = {}): Bundle {
  const files: BundleFile[] = [];
  const skipped: Bundle['skipped'] = [];
  for (const artefact of artefacts) {
    try {
      const text = generate(artefact.kind, policy, topology, request);
      files.push({ name: artefact.name, text, executable: artefact.name.endsWith('.sh') });
    } catch (error) {
      if (
        artefact.required ||
        !(error instanceof PathwardenError) ||
        error.code !== 'PW_ERR_GENERATE_INVALID'
      )
        throw error;
      skipped.push({ kind: artefact.kind, reason: error.message });
    }
  }
  const header = comment('#', [
    ...headerLines(
      prepare(policy, topology, request),
      request.component ?? 'saas',
      'pathwarden bundle',
      'bundle',
    ),
    ...skipped.map((skip) => `Not in this bundle: ${skip.kind}: ${skip.reason}`),
  ]);
  const has = (name: string) => files.some((file) => file.name === name);
  files.push({ name: 'check.sh', text: checkScript(header, request, has), executable: true });
  files.push({ name: 'apply.sh', text: applyScript(header, has), executable: true });
  return { files, skipped };
}

function checkScript(header: string, request: GenerateRequest, has: (name: string) => boolean): string {
  const { table } = resolvedMarks(request);
  const dev = request.dev ?? 'pwcheck0';
  const nextHops = [
    ...(request.via === undefined ? [] : [`\tip -n "$ns" -4 route add ${request.via}/32 dev ${dev}`]),
    ...(request.via6 === undefined ? [] : [`\tip -n "$ns" -6 route add ${request.via6}/128 dev ${dev}`]),
  ];
  const lines = [
    '#!/bin/sh',
    header,
    '# check.sh: a dry run of every artefact by its real consumer. It changes nothing on this host: the',
    '# routes script runs in a throwaway network namespace, deleted afterwards. Exit status 0 = all good.',
    'set -u',
    'here=$(cd "$(dirname "$0")" && pwd)',
    'failed=0',
    'check() {',
    '\twhat=$1',
    '\tshift',
    '\tif output=$("$@" 2>&1); then',
    '\t\techo "ok    $what"',
    '\telse',
    '\t\techo "FAIL  $what"',
    "\t\tprintf '%s\\n' \"$output\" | sed 's/^/      /'",
    '\t\tfailed=1',
    '\tfi',
    '}',
    '',
    '# The routes script, run twice in a throwaway namespace with the circuit device and next hop: it must',
    '# leave the fail-closed route and its tagged rules, and the second run must change nothing.',
    'routes_in_namespace() {',
    '\tns="pw-check-$(od -An -N4 -tx1 /dev/urandom | tr -d \' \\n\')"',
    '\tip netns add "$ns" || return 1',
    '\ttrap \'ip netns del "$ns" 2>/dev/null\' EXIT',
    '\tset -e',
    `\tip -n "$ns" link add ${dev} type veth peer name pwcheckpeer`,
    `\tip -n "$ns" link set ${dev} up`,
    '\tip -n "$ns" link set pwcheckpeer up',
    ...nextHops,
    '\tip netns exec "$ns" sh "$here/pathwarden-routes.sh"',
    '\tfirst=$(ip -n "$ns" -4 rule show; ip -n "$ns" -6 rule show; ip -n "$ns" -4 route show table all)',
    '\tip netns exec "$ns" sh "$here/pathwarden-routes.sh"',
    '\tsecond=$(ip -n "$ns" -4 rule show; ip -n "$ns" -6 rule show; ip -n "$ns" -4 route show table all)',
    '\t[ "$first" = "$second" ] || { echo "a second run changed the rules or routes"; return 1; }',
    `\tip -n "$ns" -4 route show table ${table} | grep -q '^unreachable default' || { echo 'no IPv4 unreachable route'; return 1; }`,
    `\tip -n "$ns" -6 route show table ${table} | grep -q '^unreachable default' || { echo 'no IPv6 unreachable route'; return 1; }`,
    `\tip -n "$ns" -4 rule show | grep -q 'lookup ${table} proto ${rulesProtocol}$' || { echo 'no tagged rule'; return 1; }`,
    '}',
    '',
  ];
  if (has('squid-pathwarden.conf')) {
    lines.push(
      '# The Squid fragment inside a minimal squid.conf (Squid parses a whole configuration).',
      'squid_parse() {',
      '\tdir=$(mktemp -d)',
      '\ttrap \'rm -rf "$dir"\' EXIT',
      '\tprintf \'http_port 127.0.0.1:3128\\npid_filename none\\ninclude %s\\nhttp_access deny all\\n\' "$here/squid-pathwarden.conf" >"$dir/squid.conf"',
      '\tsquid -k parse -f "$dir/squid.conf" >"$dir/out" 2>&1 || { cat "$dir/out"; return 1; }',
      '\tif grep -E \'FATAL|ERROR\' "$dir/out"; then return 1; fi',
      '}',
      '',
    );
  }
  lines.push(
    'check "nftables ruleset (nft -c -f)" nft -c -f "$here/pathwarden.nft"',
    'check "dnsmasq fragment (dnsmasq --test)" dnsmasq --test -C "$here/dnsmasq-pathwarden.conf"',
    'check "routes script syntax (sh -n)" sh -n "$here/pathwarden-routes.sh"',
    'check "routes script in a throwaway namespace (ip)" routes_in_namespace',
  );
  if (has('squid-pathwarden.conf')) lines.push('check "squid fragment (squid -k parse)" squid_parse');
  lines.push('exit "$failed"');
  return `${lines.join('\n')}\n`;
}

function applyScript(header: string, has: (name: string) => boolean): string {
  const install = (file: string, variable: string, directory: string, reload: string[]) => [
    `dir=\${${variable}:-${directory}}`,
    'if [ -d "$dir" ]; then',
    `\tcp "$here/${file}" "$dir/.pathwarden.conf.tmp"`,
    '\tmv "$dir/.pathwarden.conf.tmp" "$dir/pathwarden.conf"',
    `\techo "installed $dir/pathwarden.conf"`,
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion
    '\tif [ "${PATHWARDEN_NO_RELOAD:-0}" != 1 ]; then',
    ...reload.map((line) => `\t\t${line}`),
    '\tfi',
    'else',
    `\techo "skipped ${file}: $dir does not exist (set ${variable})" >&2`,
    'fi',
  ];
  const lines = [
    '#!/bin/sh',
    header,
    '# apply.sh: runs check.sh and applies nothing unless every check passes; then applies in fail-closed',
    '# order: the circuit table (unreachable route first, then the rules), the nftables marks (one atomic',
    '# transaction that keeps the name sets), the dnsmasq fragment, the Squid fragment. Exit status 2: all',
    '# applied, but the circuit route is missing (link down): circuit-bound traffic is dropped until the',
    '# routes script runs again. PATHWARDEN_DNSMASQ_DIR, PATHWARDEN_SQUID_DIR choose where the fragments go;',
    '# PATHWARDEN_NO_RELOAD=1 installs them without restarting dnsmasq or reconfiguring Squid.',
    'set -eu',
    'here=$(cd "$(dirname "$0")" && pwd)',
    'if ! sh "$here/check.sh"; then',
    '\techo "pathwarden: check.sh failed: nothing applied" >&2',
    '\texit 1',
    'fi',
    '',
    'status=0',
    'sh "$here/pathwarden-routes.sh" || status=$?',
    'if [ "$status" -ne 0 ] && [ "$status" -ne 2 ]; then exit "$status"; fi',
    'nft -f "$here/pathwarden.nft"',
    'echo "applied pathwarden-routes.sh and pathwarden.nft"',
    '',
    '# dnsmasq reads conf-dir files only at start: restart it (its cache is emptied, the sets stay).',
    ...install('dnsmasq-pathwarden.conf', 'PATHWARDEN_DNSMASQ_DIR', '/etc/dnsmasq.d', [
      'if command -v systemctl >/dev/null && systemctl is-active -q dnsmasq; then systemctl restart dnsmasq; fi',
    ]),
  ];
  if (has('squid-pathwarden.conf')) {
    lines.push(
      '',
      ...install('squid-pathwarden.conf', 'PATHWARDEN_SQUID_DIR', '/etc/squid/conf.d', [
        'if command -v squid >/dev/null && squid -k check >/dev/null 2>&1; then squid -k reconfigure; fi',
      ]),
    );
  }
  if (has('pathwarden.pac'))
    lines.push('', 'echo "publish $here/pathwarden.pac where your browsers fetch their PAC file"');
  lines.push('exit "$status"');
  return `${lines.join('\n')}\n`;
}
