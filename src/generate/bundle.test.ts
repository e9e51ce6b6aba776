// `generate bundle`: every artefact plus check.sh and apply.sh, run as an engineer would: check.sh
// dry-runs each artefact with its consumer (its routes run in a throwaway namespace), and apply.sh,
// run inside a router namespace this test creates, applies nothing when a check fails and applies
// everything in fail-closed order when they pass.
import { access, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { needPeers } from '../testing/peers.js';
import { generateBundle } from './bundle.js';
import { builtinPolicy, exampleTopology, exampleTopologyFile, topology } from './testing/fixtures.js';
import { createRouterNamespace, type RouterNamespace } from './testing/netns.js';
import { run } from './testing/processes.js';
import { runPathwarden } from './testing/run-cli.js';

const runnable = needPeers('ip', 'nft', 'dnsmasq', 'squid', 'root');
const policy = builtinPolicy();
const circuit = ['--via', '192.0.2.1', '--via6', '2001:db8:2::1', '--dev', 'er0'];

describe('generate bundle', () => {
  let dir: string;
  let router: RouterNamespace | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pathwarden-bundle-'));
  });
  afterAll(async () => {
    await router?.remove();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('writes every artefact, check.sh and apply.sh (executable) into -o DIR', async () => {
    const out = join(dir, 'all');
    const { code, stdout, stderr } = await runPathwarden(
      ...['generate', 'bundle', '--topology', exampleTopologyFile, ...circuit, '-o', out],
    );
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const names = [
      'pathwarden-routes.sh',
      'pathwarden.nft',
      'dnsmasq-pathwarden.conf',
      'squid-pathwarden.conf',
      'pathwarden.pac',
      'allowlist.txt',
      'route-filter.txt',
      'check.sh',
      'apply.sh',
    ];
    for (const name of names) {
      await access(join(out, name));
      expect(stdout).toContain(`wrote ${join(out, name)}`);
    }
    for (const name of ['check.sh', 'apply.sh', 'pathwarden-routes.sh'])
      expect((await stat(join(out, name))).mode & 0o111).toBe(0o111);
    expect(await readFile(join(out, 'apply.sh'), 'utf8')).toMatch(/sh "\$here\/check\.sh"[\s\S]*nft -f/);
  });

  test('leaves out what the topology cannot give, says why, and refuses without -o or --via', async () => {
    const sourcesOnly = topology({ expressroute: { sourceAddresses: ['10.20.0.5', '2001:db8::5'] } });
    const bundle = generateBundle(policy, sourcesOnly, { via: '192.0.2.1' });
    expect(bundle.skipped.map((skip) => skip.kind).sort()).toEqual(['pac', 'route-filter']);
    expect(bundle.files.find((file) => file.name === 'check.sh')?.text).toContain(
      'Not in this bundle: pac: pac needs a circuit proxy',
    );
    expect(
      (await runPathwarden('generate', 'bundle', '--topology', exampleTopologyFile, ...circuit)).stderr,
    ).toMatch(/give it with -o DIR/);
    expect(() => generateBundle(policy, exampleTopology(), {})).toThrow(/--via/);
  });

  describe.skipIf(!runnable)('with the real consumers', () => {
    test('check.sh passes; apply.sh applies nothing after a failed check, everything after a good one', {
      timeout: 90_000,
    }, async () => {
      const out = join(dir, 'real');
      expect(
        (await runPathwarden('generate', 'bundle', '--topology', exampleTopologyFile, ...circuit, '-o', out))
          .code,
      ).toBe(0);
      const checked = await run('sh', [join(out, 'check.sh')]);
      expect(checked.stdout).not.toContain('FAIL');
      expect(checked.stdout.match(/^ok /gm)).toHaveLength(5);
      expect(checked.code).toBe(0);

      router = await createRouterNamespace('bundle');
      const targets = { dnsmasq: join(dir, 'dnsmasq.d'), squid: join(dir, 'squid-conf.d') };
      await run('mkdir', ['-p', targets.dnsmasq, targets.squid]);
      const apply = () =>
        run('ip', [
          ...['netns', 'exec', router?.name as string, 'env', `PATHWARDEN_DNSMASQ_DIR=${targets.dnsmasq}`],
          ...[`PATHWARDEN_SQUID_DIR=${targets.squid}`, 'PATHWARDEN_NO_RELOAD=1', 'sh', join(out, 'apply.sh')],
        ]);

      // A broken artefact: check.sh fails, and apply.sh touches nothing.
      const nft = await readFile(join(out, 'pathwarden.nft'), 'utf8');
      await writeFile(
        join(out, 'pathwarden.nft'),
        nft.replace('chain classify {\n\t\tip daddr', 'chain classify {\n\t\tip dadr'),
      );
      const refused = await apply();
      expect(refused.code).toBe(1);
      expect(refused.stdout).toContain('FAIL  nftables ruleset');
      expect(refused.stderr).toContain('nothing applied');
      expect(
        (await run('ip', ['netns', 'exec', router.name, 'nft', 'list', 'table', 'inet', 'pathwarden'])).code,
      ).not.toBe(0);
      expect(await router.exec('ip', '-4', 'rule', 'show')).not.toContain('lookup 100');

      await writeFile(join(out, 'pathwarden.nft'), nft);
      const applied = await apply();
      expect(applied.stderr).toBe('');
      expect(applied.code).toBe(0);
      expect(await router.exec('nft', 'list', 'chain', 'inet', 'pathwarden', 'classify')).toContain('@er4');
      expect(await router.exec('ip', '-4', 'rule', 'show')).toContain('lookup 100 proto 245');
      expect(await router.exec('ip', '-4', 'route', 'show', 'table', '100')).toContain('unreachable default');
      expect(await readFile(join(targets.dnsmasq, 'pathwarden.conf'), 'utf8')).toBe(
        await readFile(join(out, 'dnsmasq-pathwarden.conf'), 'utf8'),
      );
      expect(await readFile(join(targets.squid, 'pathwarden.conf'), 'utf8')).toContain('never_direct');
      // Applying again changes nothing and still succeeds.
      expect((await apply()).code).toBe(0);
      expect((await router.exec('ip', '-4', 'rule', 'show')).match(/lookup 100/g)).toHaveLength(2);
    });
  });
});
