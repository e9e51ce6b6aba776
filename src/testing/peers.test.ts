import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { packageRoot } from '../catalog/load.js';
import { ALLOW_MISSING_PEERS, needPeers, peers } from './peers.js';

const saved = process.env[ALLOW_MISSING_PEERS];
afterEach(() => {
  if (saved === undefined) delete process.env[ALLOW_MISSING_PEERS];
  else process.env[ALLOW_MISSING_PEERS] = saved;
});

test('the list names every peer a test asks for, each with its Debian package', () => {
  for (const name of ['chromium', 'squid', 'dnsmasq', 'nft', 'ip', 'tshark', 'curl', 'openssl']) {
    expect(peers[name]?.apt, name).toMatch(/^[a-z0-9][a-z0-9.+-]+$/);
    expect(peers[name]?.path, name).toMatch(/^\//);
  }
});

test('a missing peer fails with the install command, or skips only when the developer opts out', () => {
  const real = peers.squid;
  if (real === undefined) throw new Error('squid is not in the list');
  const saved = real.path;
  (peers as Record<string, { path: string; apt: string }>).squid = { ...real, path: '/nonexistent/squid' };
  try {
    delete process.env[ALLOW_MISSING_PEERS];
    expect(() => needPeers('squid')).toThrow(/apt-get install -y squid/);
    process.env[ALLOW_MISSING_PEERS] = '1';
    expect(needPeers('squid')).toBe(false);
  } finally {
    (peers as Record<string, { path: string; apt: string }>).squid = { ...real, path: saved };
  }
});

test('npm run docs:screenshots runs test files that exist and save through screenshotPath()', () => {
  const root = packageRoot();
  const script = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts[
    'docs:screenshots'
  ] as string;
  const files = script.split(' ').filter((word) => word.endsWith('.test.ts'));
  expect(files.length).toBeGreaterThanOrEqual(3);
  for (const file of files) expect(readFileSync(join(root, file), 'utf8'), file).toContain('screenshotPath(');
});
