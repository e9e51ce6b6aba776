// Profiles of the built-in catalog: `seed` is exactly the 2018 document, `current` (the default)
// adds Microsoft's current lists, `private-link` puts the front end and the Private Link zones on
// the circuit. Every answer says which profile gave it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runCli } from '../cli/program.js';
import { parseGatewayConfig } from '../gateway/config.js';
import { loadBuiltinCatalog, parseCatalog } from './load.js';
import { selectProfile } from './profiles.js';

async function run(...argv: string[]) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk) => {
    out += String(chunk);
  });
  stderr.on('data', (chunk) => {
    err += String(chunk);
  });
  const code = await runCli(argv, { stdin: new PassThrough(), stdout, stderr });
  return { code, out, err };
}

const explain = async (...argv: string[]) => {
  const { code, out } = await run('explain', '--json', ...argv);
  expect(code).toBe(0);
  return JSON.parse(out) as { path: string; profile: string; rule: { id: string } | null };
};

const { catalog } = loadBuiltinCatalog();

describe('profiles of the built-in catalog', () => {
  test('the default profile is current and every answer names it', async () => {
    const decision = await explain('app.powerbi.com');
    expect(decision).toMatchObject({ path: 'either', profile: 'current' });
    const text = await run('explain', 'app.powerbi.com');
    expect(text.out).toMatch(/profile\s+current/);
  });

  test('--profile seed answers exactly the seed rules', async () => {
    const { out } = await run('catalog', 'list', '--json', '--profile', 'seed');
    const ids = (JSON.parse(out) as { id: string }[]).map((rule) => rule.id);
    const seedRules = catalog.rules.filter((rule) => rule.source.startsWith('seed')).map((rule) => rule.id);
    expect(ids).toEqual(seedRules);
    expect(await explain('--profile', 'seed', 'api.powerbi.com')).toMatchObject({
      path: 'expressroute',
      profile: 'seed',
      rule: { id: 'service.backend-api' },
    });
    // Hosts of later documents are not in the seed.
    for (const host of ['content.powerapps.com', 'app.fabric.microsoft.com', 'login.windows.net']) {
      expect((await explain('--profile', 'seed', host)).path, host).toBe('unknown');
    }
    expect((await explain('--profile', 'seed', '13.73.248.4')).path).toBe('unknown');
  });

  test('--profile private-link: front end, Fabric and the Private Link zones ride the circuit', async () => {
    for (const host of ['app.powerbi.com', 'contoso.powerbi.com', 'app.fabric.microsoft.com']) {
      expect(await explain('--profile', 'private-link', host), host).toMatchObject({
        path: 'expressroute',
        profile: 'private-link',
        rule: { id: 'privatelink.front-end' },
      });
    }
    for (const host of [
      'tenant-api.privatelink.analysis.windows.net',
      'x.privatelink.pbidedicated.windows.net',
      'x.privatelink.prod.powerquery.microsoft.com',
    ]) {
      expect((await explain('--profile', 'private-link', host)).rule?.id, host).toBe('privatelink.zones');
    }
    expect((await explain('--profile', 'private-link', 'api.powerbi.com')).path).toBe('expressroute');
    // CDN and third parties stay on the Internet.
    for (const [host, component] of [
      ['maxcdn.bootstrapcdn.com', 'saas'],
      ['x.azureedge.net', 'paas'],
      ['content.powerapps.com', 'desktop'],
      ['bing.com', 'saas'],
    ]) {
      const decision = await explain(
        '--profile',
        'private-link',
        '--component',
        component as string,
        host as string,
      );
      expect(decision.path, host).toBe('internet');
    }
    // The private-link rules are not in the current profile.
    expect((await run('catalog', 'list', '--json')).out).not.toContain('privatelink.front-end');
  });

  test('an unknown profile is a usage error that lists the profiles', async () => {
    const { code, err } = await run('explain', '--profile', 'nope', 'app.powerbi.com');
    expect(code).toBe(2);
    expect(err).toContain('has no profile "nope" (profiles: seed, current, private-link)');
  });

  test('catalog list says which profile it lists', async () => {
    const { out } = await run('catalog', 'list', '--profile', 'private-link');
    expect(out).toMatch(/profile private-link\n$/);
  });

  test('the gateway configuration takes a profile', () => {
    const config = parseGatewayConfig(
      'listen: 127.0.0.1:0\negress: { expressroute: { direct: true }, internet: { direct: true } }\nprofile: private-link\n',
      'gw.yaml',
    );
    expect(config.profile).toBe('private-link');
    expect(selectProfile(catalog, config.profile).rules.some((rule) => rule.id === 'privatelink.zones')).toBe(
      true,
    );
  });
});

describe('profiles in catalog files', () => {
  const text = (profiles: string) =>
    `schema: pathwarden.catalog/v1\nname: t\nversion: '1'\nrules:\n` +
    `  - { id: a.public, components: all, activity: a, hosts: [x.example], path: internet, data: other, source: s }\n` +
    `  - { id: b.private, components: all, activity: b, hosts: [x.example], path: expressroute, data: other, source: s }\n` +
    profiles;

  test('rules of different profiles may disagree; rules of one profile may not', () => {
    const ok = parseCatalog(
      text('profiles:\n  one: { title: One, exclude: [b.*] }\n  two: { title: Two, rules: [b.private] }\n'),
      't.yaml',
    );
    expect(ok.problems).toEqual([]);
    const bad = parseCatalog(text('profiles:\n  one: { title: One, exclude: [nothing.*] }\n'), 't.yaml');
    const messages = bad.problems.map((problem) => problem.message);
    expect(messages).toEqual(
      expect.arrayContaining([
        'profile "one" names "nothing.*", which matches no rule',
        expect.stringMatching(
          /rule "b.private" \(expressroute\) conflicts with rule "a.public" \(internet\)/,
        ),
      ]),
    );
  });
});

describe('audit reports say which profile answered', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'pathwarden-profile-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('audit --json --profile private-link', async () => {
    const csv = join(dir, 'flows.csv');
    writeFileSync(
      csv,
      'start,client,host,port,protocol\n1709287200000,10.20.0.15,app.powerbi.com,443,https\n',
    );
    const { out } = await run('audit', '--json', '--profile', 'private-link', '--format', 'csv', csv);
    const report = JSON.parse(out) as { catalog: { profile: string }; rules: { rule: string | null }[] };
    expect(report.catalog.profile).toBe('private-link');
    expect(report.rules.map((rule) => rule.rule)).toContain('privatelink.front-end');
  });
});
