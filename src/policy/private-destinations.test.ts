// Private destinations (loopback, link-local, RFC 1918, CGNAT, IPv6 ULA) are never the Internet:
// a topology default does not make them `internet`; a topology prefix makes them `expressroute`.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runCli } from '../cli/program.js';
import { parseIp } from '../match/ip.js';
import { PathResolver, topologySchema } from './topology.js';

const internetDefault = new PathResolver(topologySchema.parse({ default: 'internet' }));
const withVnet = new PathResolver(
  topologySchema.parse({ expressroute: { prefixes: ['10.1.0.0/16', 'fd00::/64'] }, default: 'internet' }),
);
const resolve = (resolver: PathResolver, text: string) => resolver.resolve({ destination: parseIp(text) });

describe('actual path of private destinations', () => {
  test.each([
    '10.1.2.3',
    '172.16.5.5',
    '192.168.1.1',
    '127.0.0.1',
    '169.254.1.1',
    '100.64.0.9',
    'fd00::1',
    'fe80::1',
    '::1',
    '::ffff:10.1.2.3',
  ])('%s is never internet from the default', (address) => {
    const result = resolve(internetDefault, address);
    expect(result.path).toBe('unknown');
    expect(result.evidence).toMatch(/^private destination/);
  });

  test('a private prefix the topology lists under expressroute is expressroute', () => {
    expect(resolve(withVnet, '10.1.2.3')).toEqual({ path: 'expressroute', evidence: 'prefix 10.1.0.0/16' });
    expect(resolve(withVnet, 'fd00::1').path).toBe('expressroute');
    expect(resolve(withVnet, '10.2.0.1').path).toBe('unknown');
  });

  test('public destinations still take the default', () => {
    expect(resolve(internetDefault, '20.0.0.1')).toEqual({ path: 'internet', evidence: 'default' });
  });
});

describe('audit of flows to private destinations', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'pathwarden-private-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('api.powerbi.com to 10.1.2.3, 127.0.0.1, 169.254.1.1 and fd00::1 under default internet: no leak', async () => {
    const csv = join(dir, 'flows.csv');
    writeFileSync(
      csv,
      [
        'start,client,host,destination,port,protocol',
        ...['10.1.2.3', '127.0.0.1', '169.254.1.1', 'fd00::1'].map(
          (address, i) => `${1709287200000 + i},10.20.0.15,api.powerbi.com,${address},443,https`,
        ),
        '',
      ].join('\n'),
    );
    const topology = join(dir, 'topology.yaml');
    writeFileSync(topology, 'default: internet\n');
    const stdout = new PassThrough();
    let out = '';
    stdout.on('data', (chunk) => {
      out += String(chunk);
    });
    const code = await runCli(['audit', '--json', '--topology', topology, '--format', 'csv', csv], {
      stdin: new PassThrough(),
      stdout,
      stderr: new PassThrough(),
    });
    const report = JSON.parse(out) as { flows: number; verdicts: Record<string, number> };
    expect(code).toBe(0);
    expect(report.flows).toBe(4);
    expect(report.verdicts.leak).toBe(0);
    expect(report.verdicts.unverified).toBe(4);
  });

  test('a name resolved through a privatelink CNAME to a private address shows that as evidence', async () => {
    const dns = join(dir, 'dnsmasq.log');
    writeFileSync(
      dns,
      [
        'Mar  1 10:00:00 dnsmasq[1]: query[A] api.powerbi.com from 10.20.0.15',
        'Mar  1 10:00:00 dnsmasq[1]: reply api.powerbi.com is <CNAME>',
        'Mar  1 10:00:00 dnsmasq[1]: reply tenant-api.privatelink.analysis.windows.net is 10.1.2.3',
        '',
      ].join('\n'),
    );
    const csv = join(dir, 'conn.csv');
    writeFileSync(csv, 'start,client,destination,port,protocol\n1709287200000,10.20.0.15,10.1.2.3,443,tcp\n');
    const topology = join(dir, 'topology-default.yaml');
    writeFileSync(topology, 'default: internet\n');
    const stdout = new PassThrough();
    let out = '';
    stdout.on('data', (chunk) => {
      out += String(chunk);
    });
    await runCli(['audit', '--ndjson', '--topology', topology, dns, csv], {
      stdin: new PassThrough(),
      stdout,
      stderr: new PassThrough(),
    });
    const flows = out
      .trim()
      .split('\n')
      .map(
        (line) =>
          JSON.parse(line) as {
            destination: string | null;
            host: string;
            verdict: string;
            actualPathEvidence: string;
          },
      );
    const flow = flows.find((candidate) => candidate.destination === '10.1.2.3');
    expect(flow?.host).toBe('api.powerbi.com');
    expect(flow?.verdict).toBe('unverified');
    expect(flow?.actualPathEvidence).toContain('private destination 10.1.2.3');
    expect(flow?.actualPathEvidence).toContain(
      'DNS via Private Link tenant-api.privatelink.analysis.windows.net',
    );
  });
});
