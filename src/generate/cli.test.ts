// `pathwarden generate` through the CLI: output equal to the programmatic API, -o, --help, and
// one-line errors with exit code 2 for every kind of bad input.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type GenerateKind, type GenerateRequest, generate, generateKinds } from './kinds.js';
import { builtinPolicy, exampleTopology, exampleTopologyFile } from './testing/fixtures.js';
import { runPathwarden } from './testing/run-cli.js';

const cli = runPathwarden;

describe('pathwarden generate', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pathwarden-generate-cli-'));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('--help lists every kind, the options and examples', async () => {
    const { code, stdout } = await cli('generate', '--help');
    expect(code).toBe(0);
    for (const kind of generateKinds) expect(stdout).toContain(`  ${kind} `);
    for (const option of [
      '--topology',
      '--output',
      '--component',
      '--either',
      '--resolve-ip',
      '--format',
      '--region',
      '--via',
    ]) {
      expect(stdout).toContain(option);
    }
    expect(stdout).toContain('Examples:');
  });

  const cases: [GenerateKind, string[], GenerateRequest][] = [
    ['pac', [], {}],
    ['squid', [], {}],
    ['dnsmasq', [], {}],
    ['nftables', ['--fwmark', '0x4000'], { fwmark: 0x4000 }],
    ['iproute', ['--via', '192.0.2.1', '--dev', 'er0'], { via: '192.0.2.1', dev: 'er0' }],
    ['allowlist', ['--format', 'csv'], { format: 'csv' }],
    ['route-filter', ['--json'], { json: true }],
  ];
  test.each(cases)('%s %j prints what the programmatic API returns', async (kind, extra, request) => {
    const { code, stdout, stderr } = await cli('generate', kind, '--topology', exampleTopologyFile, ...extra);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toBe(generate(kind, builtinPolicy(), exampleTopology(), request));
  });

  test('-o writes the file', async () => {
    const file = join(dir, 'proxy.pac');
    const { code, stdout } = await cli('generate', 'pac', '--topology', exampleTopologyFile, '-o', file);
    expect(code).toBe(0);
    expect(stdout).toBe('');
    expect(await readFile(file, 'utf8')).toContain('function FindProxyForURL(url, host)');
  });

  test.each([
    [['generate', 'bogus'], /unknown kind "bogus" \(expected one of pac, squid/],
    [['generate', 'pac', '--component', 'mobile'], /does not cover the mobile component/],
    [['generate', 'pac', '--component', 'tablet'], /unknown component "tablet"/],
    [['generate', 'pac', '--either', 'sideways'], /--either "sideways" is not one of expressroute, internet/],
    [['generate', 'pac', '--topology', '/nonexistent/topology.yaml'], /cannot read topology/],
    [['generate', 'squid'], /squid needs an egress for circuit-bound traffic/],
    [['generate', 'iproute', '--topology', exampleTopologyFile], /iproute needs the next hop/],
    [['generate', 'iproute', '--via', '192.0.2.1', '--table', '254'], /--table "254" is not an integer/],
    [['generate', 'nftables', '--fwmark', 'zero'], /--fwmark "zero"/],
    [['generate', 'allowlist', '--format', 'xml'], /--format "xml" is not one of text, csv, json, azfw/],
    [['generate', 'route-filter'], /needs the tenant's Azure region/],
    [
      ['generate', 'route-filter', '--region', 'narnia'],
      /unknown Azure region "narnia" \(known: eastus, .*westeurope/,
    ],
    [
      ['generate', 'pac', '--topology', exampleTopologyFile, '-o', '/nonexistent/dir/proxy.pac'],
      /cannot write \/nonexistent\/dir\/proxy.pac/,
    ],
    [['generate', 'pac'], /pac needs a circuit proxy/],
  ])('%j fails with one line and exit code 2', async (argv, message) => {
    const { code, stdout, stderr } = await cli(...argv);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(message);
    expect(stderr.trimEnd().split('\n')).toHaveLength(1);
  });
});
