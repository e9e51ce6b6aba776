// `catalog import service-tags | m365-endpoints` and `catalog diff`: overlays written from small
// files in Microsoft's formats, loaded back with --catalog, compared with the built-in catalog.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runPathwarden } from '../generate/testing/run-cli.js';

async function run(...argv: string[]) {
  const { code, stdout, stderr } = await runPathwarden(...argv);
  return { code, out: stdout, err: stderr };
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pathwarden-import-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const serviceTags = {
  changeNumber: 399,
  cloud: 'Public',
  values: [
    {
      name: 'PowerBI',
      id: 'PowerBI',
      properties: {
        changeNumber: 42,
        region: '',
        regionId: 0,
        platform: 'Azure',
        systemService: 'PowerBI',
        addressPrefixes: ['203.0.113.0/25', '2001:db8:7::/48'],
        networkFeatures: ['API', 'NSG'],
        someFieldMicrosoftAddsLater: true,
      },
    },
    {
      name: 'PowerBI.WestEurope',
      id: 'PowerBI.WestEurope',
      properties: { region: 'westeurope', addressPrefixes: ['198.51.100.0/26'] },
    },
  ],
};

describe('catalog import service-tags', () => {
  test('writes an overlay whose prefixes ride the circuit; diff lists them', async () => {
    const tags = join(dir, 'ServiceTags_Public_20261130.json');
    writeFileSync(tags, JSON.stringify(serviceTags, null, 2));
    const overlay = join(dir, 'overlay.yaml');
    const imported = await run('catalog', 'import', 'service-tags', tags, '--tag', 'PowerBI', '-o', overlay);
    expect(imported.code).toBe(0);
    expect(imported.out).toContain('rule servicetag.powerbi with 2 prefixes (changeNumber 399)');
    expect(readFileSync(overlay, 'utf8')).toContain('servicetags-399, tag "PowerBI", file date 2026-11-30');

    const explained = await run('explain', '--json', '--catalog', overlay, '203.0.113.77');
    expect(JSON.parse(explained.out)).toMatchObject({
      path: 'expressroute',
      rule: { id: 'servicetag.powerbi', matched: '203.0.113.0/25' },
      profile: 'current',
    });
    expect(JSON.parse((await run('explain', '--json', '--catalog', overlay, '2001:db8:7::1')).out).path).toBe(
      'expressroute',
    );

    const diff = await run('catalog', 'diff', '--json', '--overlay', 'builtin', overlay);
    expect(diff.code).toBe(1);
    const changes = JSON.parse(diff.out) as { rules: { added: string[] }; prefixes: { added: string[] } };
    expect(changes.rules.added).toEqual(['servicetag.powerbi']);
    expect(changes.prefixes.added).toEqual(['203.0.113.0/25', '2001:db8:7::/48']);
    const text = await run('catalog', 'diff', 'builtin', overlay);
    expect(text.code).toBe(1);
    expect(text.out).toContain('+ 203.0.113.0/25');
    expect((await run('catalog', 'diff', 'builtin', 'builtin')).code).toBe(0);
  });

  test('--region picks the regional tag', async () => {
    const tags = join(dir, 'ServiceTags_Public_20261201.json');
    writeFileSync(tags, JSON.stringify(serviceTags));
    const overlay = join(dir, 'regional.yaml');
    const { code } = await run(
      'catalog',
      'import',
      'service-tags',
      tags,
      '--region',
      'WestEurope',
      '-o',
      overlay,
    );
    expect(code).toBe(0);
    expect(
      JSON.parse((await run('explain', '--json', '--catalog', overlay, '198.51.100.9')).out).rule.id,
    ).toBe('servicetag.powerbi-westeurope');
  });

  test('a malformed file is refused with located problems', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(
      bad,
      '{\n  "changeNumber": 1,\n  "cloud": "Public",\n  "values": [\n    { "name": "PowerBI", "properties": { "addressPrefixes": ["10.0.0.1/8"] } }\n  ]\n}\n',
    );
    const { code, err } = await run('catalog', 'import', 'service-tags', bad, '-o', join(dir, 'x.yaml'));
    expect(code).toBe(2);
    expect(err).toMatch(/bad\.json:5:\d+.*values\[0\]\.properties\.addressPrefixes\[0\].*CIDR/);
    const missing = await run(
      'catalog',
      'import',
      'service-tags',
      bad,
      '--tag',
      'Nope',
      '-o',
      join(dir, 'y.yaml'),
    );
    expect(missing.code).toBe(2);
  });
});

describe('catalog import m365-endpoints', () => {
  test('the Common sets become rules: expressRoute true -> expressroute, false -> internet', async () => {
    const sample = join(dir, 'endpoints.json');
    writeFileSync(
      sample,
      JSON.stringify([
        {
          id: 56,
          serviceArea: 'Common',
          serviceAreaDisplayName: 'Microsoft 365 Common and Office Online',
          urls: ['login.microsoftonline.com', 'login.windows.net', 'contoso-login.example'],
          ips: ['20.190.128.0/18'],
          tcpPorts: '80,443',
          expressRoute: true,
          category: 'Allow',
          required: true,
          newField: 'ignored',
        },
        {
          id: 59,
          serviceArea: 'Common',
          urls: ['*.msauth.net', '*excel.officeapps.live.com'],
          tcpPorts: '443',
          expressRoute: false,
          category: 'Default',
          required: true,
        },
        { id: 1, serviceArea: 'Exchange', urls: ['outlook.office.com'], expressRoute: true },
      ]),
    );
    const overlay = join(dir, 'm365.yaml');
    const { code, err } = await run(
      'catalog',
      'import',
      'm365-endpoints',
      sample,
      '--data-version',
      '2026113000',
      '-o',
      overlay,
    );
    expect(code).toBe(0);
    expect(err).toContain('*excel.officeapps.live.com');
    // A wildcard shape the model does not have is skipped (and named on stderr), never guessed.
    const written = readFileSync(overlay, 'utf8');
    expect(written).toContain('"*.msauth.net"');
    expect(written).not.toContain('excel.officeapps');
    const decide = async (target: string) =>
      JSON.parse((await run('explain', '--json', '--catalog', overlay, target)).out) as {
        path: string;
        rule: { id: string; source: string } | null;
      };
    expect(await decide('contoso-login.example')).toMatchObject({
      path: 'expressroute',
      rule: { id: 'm365.common-56', source: 'm365-endpoints-2026113000, endpoint set 56' },
    });
    expect((await decide('20.190.130.1')).rule?.id).toBe('m365.common-56');
    expect((await decide('outlook.office.com')).path).toBe('unknown');
  });

  test('a malformed file is refused with its location', async () => {
    const bad = join(dir, 'bad-m365.json');
    writeFileSync(bad, '[\n  { "id": "x", "serviceArea": "Common", "expressRoute": true }\n]\n');
    const { code, err } = await run('catalog', 'import', 'm365-endpoints', bad, '-o', join(dir, 'z.yaml'));
    expect(code).toBe(2);
    expect(err).toMatch(/bad-m365\.json:2:\d+.*\[0\]\.id/);
  });
});
