// Builds and removes the lab's namespaces and links. Nothing is configured in the root namespace:
// veth pairs are created directly inside their namespaces and every address, route and rule is set
// with `ip -n`. Per-namespace resolv.conf files live in /etc/netns/<ns>/ (read by `ip netns exec`).
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { labAddresses as A, clientAddresses, type LabNaming, labPrefix, linkPrefix } from './plan.js';
import { mustRun, runCommand } from './system.js';

export const circuitTable = 100;
export const internetTable = 200;
const netnsEtc = '/etc/netns';

const ipn = (ns: string, ...args: string[]) => mustRun('ip', ['-n', ns, ...args]);

/** Creates the four namespaces, the three links, addresses, routes and policy rules. */
export async function buildNetwork(naming: LabNaming): Promise<void> {
  const { ns, links } = naming;
  for (const name of Object.values(ns)) await mustRun('ip', ['netns', 'add', name]);
  for (const name of Object.values(ns)) await ipn(name, 'link', 'set', 'lo', 'up');
  const pairs = [
    [links.client, ns.client],
    [links.circuit, ns.circuit],
    [links.internet, ns.internet],
  ] as const;
  for (const [link, peerNs] of pairs) {
    await mustRun('ip', [
      'link',
      'add',
      link.branch,
      'netns',
      ns.branch,
      'type',
      'veth',
      'peer',
      'name',
      link.peer,
      'netns',
      peerNs,
    ]);
  }
  // Branch: a router with a client side and two uplinks.
  await ipn(ns.branch, 'addr', 'add', `${A.branchClientSide}/24`, 'dev', links.client.branch);
  await ipn(ns.branch, 'addr', 'add', `${A.branchCircuitSide}/24`, 'dev', links.circuit.branch);
  await ipn(ns.branch, 'addr', 'add', `${A.branchInternetSide}/24`, 'dev', links.internet.branch);
  for (const link of Object.values(links)) await ipn(ns.branch, 'link', 'set', link.branch, 'up');
  await mustRun('ip', ['netns', 'exec', ns.branch, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
  // Anything not from the gateway's circuit address leaves by the Internet edge (main table).
  await ipn(ns.branch, 'route', 'add', 'default', 'via', A.internetPeer);
  await setCircuitRoute(naming);
  await ipn(
    ns.branch,
    'route',
    'add',
    'default',
    'via',
    A.internetPeer,
    'dev',
    links.internet.branch,
    'table',
    String(internetTable),
  );
  // Fail closed in the kernel too: when a link's routes are flushed, its table still ends here
  // instead of falling through to the main table (and so to the other uplink).
  for (const table of [circuitTable, internetTable])
    await ipn(ns.branch, 'route', 'add', 'unreachable', 'default', 'metric', '4000', 'table', String(table));
  await ipn(
    ns.branch,
    'rule',
    'add',
    'from',
    A.branchCircuitSide,
    'table',
    String(circuitTable),
    'pref',
    '1000',
  );
  await ipn(
    ns.branch,
    'rule',
    'add',
    'from',
    A.branchInternetSide,
    'table',
    String(internetTable),
    'pref',
    '1001',
  );

  // Client: one address per component, default route to the branch.
  for (const address of Object.values(clientAddresses))
    await ipn(ns.client, 'addr', 'add', `${address}/24`, 'dev', links.client.peer);
  await ipn(ns.client, 'link', 'set', links.client.peer, 'up');
  await ipn(ns.client, 'route', 'add', 'default', 'via', A.branchClientSide);

  // Circuit (Microsoft side): the advertised prefix and the front end, answered locally.
  await ipn(ns.circuit, 'addr', 'add', `${A.circuitPeer}/24`, 'dev', links.circuit.peer);
  await ipn(ns.circuit, 'link', 'set', links.circuit.peer, 'up');
  // Private endpoints (private-link scenario) live behind the circuit only.
  for (const prefix of [A.circuitPrefix, A.bothPrefix, A.privateEndpointPrefix])
    await ipn(ns.circuit, 'route', 'add', 'local', prefix, 'dev', 'lo');

  // Internet: CDNs and third parties, plus Microsoft's public addresses (reachable here too).
  await ipn(ns.internet, 'addr', 'add', `${A.internetPeer}/24`, 'dev', links.internet.peer);
  await ipn(ns.internet, 'link', 'set', links.internet.peer, 'up');
  for (const prefix of [A.circuitPrefix, A.bothPrefix, A.internetPrefix])
    await ipn(ns.internet, 'route', 'add', 'local', prefix, 'dev', 'lo');
  await ipn(ns.internet, 'route', 'add', A.clientNet, 'via', A.branchInternetSide);

  writeResolvConf(ns.client, A.branchClientSide);
  writeResolvConf(ns.branch, '127.0.0.1');
}

/** (Re)installs the circuit table's route; the kernel drops it when the link goes down. */
export async function setCircuitRoute(naming: LabNaming): Promise<void> {
  await ipn(
    naming.ns.branch,
    'route',
    'replace',
    'default',
    'via',
    A.circuitPeer,
    'dev',
    naming.links.circuit.branch,
    'table',
    String(circuitTable),
  );
}

/** Cuts or restores the circuit at its far end (the branch's interface stays up: no carrier). */
export async function setCircuitLink(naming: LabNaming, up: boolean): Promise<void> {
  await ipn(naming.ns.circuit, 'link', 'set', naming.links.circuit.peer, up ? 'up' : 'down');
}

function writeResolvConf(ns: string, nameserver: string): void {
  const dir = join(netnsEtc, ns);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'resolv.conf'), `# pathwarden lab\nnameserver ${nameserver}\n`);
}

/** Removes a lab's namespaces (their links go with them) and resolv.conf folders. */
export async function removeNetwork(naming: LabNaming): Promise<void> {
  for (const name of Object.values(naming.ns)) await removeNamespace(name);
}

async function removeNamespace(name: string): Promise<void> {
  await runCommand('ip', ['netns', 'delete', name]);
  rmSync(join(netnsEtc, name), { recursive: true, force: true });
}

/** Names of lab namespaces that exist now (any run). */
export async function listLabNamespaces(): Promise<string[]> {
  const result = await runCommand('ip', ['netns', 'list']);
  return result.stdout
    .split('\n')
    .map((line) => line.split(/\s+/)[0] ?? '')
    .filter((name) => name.startsWith(labPrefix));
}

/** Lab links left in the root namespace (there should never be any). */
export async function listLabLinks(ns?: string): Promise<string[]> {
  const result = await runCommand('ip', [...(ns ? ['-n', ns] : []), '-o', 'link', 'show']);
  return result.stdout
    .split('\n')
    .map((line) => (line.split(': ')[1] ?? '').split('@')[0] ?? '')
    .filter((name) => name.startsWith(linkPrefix));
}

/** `lab down`: removes every lab namespace and resolv.conf folder, whichever run left them. */
export async function removeLeftovers(): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await listLabNamespaces()) {
    await killNamespaceProcesses(name);
    await removeNamespace(name);
    removed.push(name);
  }
  let folders: string[] = [];
  try {
    folders = readdirSync(netnsEtc).filter((name) => name.startsWith(labPrefix));
  } catch {
    // no /etc/netns
  }
  for (const name of folders) {
    rmSync(join(netnsEtc, name), { recursive: true, force: true });
    if (!removed.includes(name)) removed.push(name);
  }
  for (const link of await listLabLinks()) {
    await runCommand('ip', ['link', 'delete', link]);
    removed.push(link);
  }
  return removed;
}

/** Kills the processes of a leftover lab namespace one pid at a time (`ip netns pids`). */
async function killNamespaceProcesses(name: string): Promise<void> {
  const result = await runCommand('ip', ['netns', 'pids', name]);
  for (const pid of result.stdout.split(/\s+/).filter(Boolean).map(Number)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
