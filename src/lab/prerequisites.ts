// What a lab run needs from the machine: Linux, root, and the programs it drives. Everything is
// checked up front so that a run either starts with all of it or says exactly what to install.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Program, the Debian package that provides it, and which scenarios need it. */
const programs: readonly { program: string; pkg: string; for: string }[] = [
  { program: 'ip', pkg: 'iproute2', for: 'namespaces, links, routes' },
  { program: 'tcpdump', pkg: 'tcpdump', for: 'uplink captures' },
  { program: 'dnsmasq', pkg: 'dnsmasq-base', for: 'the lab DNS' },
  { program: 'squid', pkg: 'squid', for: 'pac-only' },
  { program: 'openssl', pkg: 'openssl', for: 'the lab CA' },
  { program: 'curl', pkg: 'curl', for: 'the clients' },
  { program: 'chromium', pkg: 'chromium', for: 'the browser client (optional)' },
];

export interface PrerequisiteReport {
  ok: boolean;
  problems: string[];
  /** Missing programs (package names) whose absence blocks the run. */
  missingPackages: string[];
  /** The command that installs what is missing, when something is. */
  install: string | null;
}

/** Finds a program on PATH (and in the sbin folders, which root's PATH may lack). */
export function findProgram(name: string, path = process.env.PATH ?? ''): string | null {
  const dirs = [...path.split(delimiter), '/usr/sbin', '/sbin', '/usr/bin', '/bin'].filter(Boolean);
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this folder
    }
  }
  return null;
}

export function checkPrerequisites(
  options: {
    needSquid?: boolean;
    platform?: string;
    uid?: number;
    find?: (name: string) => string | null;
  } = {},
): PrerequisiteReport {
  const platform = options.platform ?? process.platform;
  const uid = options.uid ?? (typeof process.getuid === 'function' ? process.getuid() : -1);
  const find = options.find ?? ((name: string) => findProgram(name));
  const problems: string[] = [];
  if (platform !== 'linux') problems.push(`the lab needs Linux network namespaces (this is ${platform})`);
  if (uid !== 0)
    problems.push('the lab needs root (network namespaces, veth links, tcpdump): run it with sudo');
  const missingPackages: string[] = [];
  for (const entry of programs) {
    if (entry.program === 'chromium') continue; // optional: the curl clients prove every statement
    if (entry.program === 'squid' && options.needSquid === false) continue;
    if (find(entry.program) === null) {
      problems.push(`${entry.program} is missing (package ${entry.pkg}, needed for ${entry.for})`);
      missingPackages.push(entry.pkg);
    }
  }
  const install = missingPackages.length > 0 ? `apt-get install -y ${missingPackages.join(' ')}` : null;
  if (install) problems.push(`install with: ${install}`);
  return { ok: problems.length === 0, problems, missingPackages, install };
}
