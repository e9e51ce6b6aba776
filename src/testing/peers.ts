// The real programs the tests drive, in one place: where each is, which Debian package brings it,
// and one check that fails the run with the install command when one is missing, instead of letting
// a test pass by testing nothing. `scripts/test.sh` installs exactly these packages first.
// PATHWARDEN_ALLOW_MISSING_PEERS=1 turns a missing peer into a skip, for a developer's laptop; CI
// never sets it (docs/testing.md).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../catalog/load.js';

interface Peer {
  /** What the tests run. */
  path: string;
  /** The Debian package that installs it. */
  apt: string;
}

/** Every program a test runs, read from scripts/test-peers.txt (the list scripts/test.sh installs). */
export const peers: Readonly<Record<string, Peer>> = Object.fromEntries(
  readFileSync(join(packageRoot(), 'scripts', 'test-peers.txt'), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#'))
    .map((line) => {
      const [name, apt, path] = line.trim().split(/\s+/) as [string, string, string];
      const override = name === 'chromium' ? process.env.CHROMIUM_PATH : undefined;
      return [name, { apt, path: override ?? path }];
    }),
);

export type PeerName =
  | 'prlimit'
  | 'chromium'
  | 'squid'
  | 'dnsmasq'
  | 'nft'
  | 'ip'
  | 'tshark'
  | 'tcpdump'
  | 'curl'
  | 'openssl'
  | 'clickhouse'
  | 'root'
  | 'build';

export const ALLOW_MISSING_PEERS = 'PATHWARDEN_ALLOW_MISSING_PEERS';

/** Why a peer is unusable here, or undefined when it is present. */
function missing(name: PeerName): string | undefined {
  if (name === 'root') {
    return process.getuid?.() === 0
      ? undefined
      : "root (network namespaces, nftables and the disk-full test's tmpfs mount need it): run the tests as root, e.g. `sudo scripts/test.sh`";
  }
  if (name === 'build') {
    const built = ['dist/src/cli/main.js', 'dist/web/index.html'].every((file) =>
      existsSync(join(packageRoot(), file)),
    );
    return built ? undefined : 'the build (dist/): run `npm run build` first (`npm test` does)';
  }
  const peer = peers[name];
  if (peer === undefined) return `${name}: not listed in scripts/test-peers.txt`;
  return existsSync(peer.path)
    ? undefined
    : `${peer.path}: install it with \`apt-get install -y ${peer.apt}\``;
}

/**
 * True when every named peer is present. When one is missing it throws, naming the package to
 * install (so the test file fails), unless PATHWARDEN_ALLOW_MISSING_PEERS=1, when it returns false
 * and the caller skips: `describe.skipIf(!needPeers('squid'))(...)`.
 */
export function needPeers(...names: PeerName[]): boolean {
  const problems = names.map(missing).filter((problem): problem is string => problem !== undefined);
  if (problems.length === 0) return true;
  if (process.env[ALLOW_MISSING_PEERS] === '1') return false;
  throw new Error(
    `a program this test drives is missing:\n  ${problems.join('\n  ')}\n` +
      `scripts/test.sh installs every test peer (as root); ${ALLOW_MISSING_PEERS}=1 skips these tests instead (never in CI).`,
  );
}
