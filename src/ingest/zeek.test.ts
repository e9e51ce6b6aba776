import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { collectFile, collectFlows } from './collect.js';
import { fixture, sample } from './test-files.js';
import { unescapeZeek, zeekFormat } from './zeek.js';

describe('zeek conn.log (TSV, brimdata/zed sample)', async () => {
  const { flows, problems } = await collectFile(zeekFormat, sample('zeek-conn.log'));

  test('92 records, no problems', () => {
    expect(problems).toEqual([]);
    expect(flows).toHaveLength(92);
    expect(flows.every((flow) => flow.origin.kind === 'zeek-conn' && flow.protocol === 'tcp')).toBe(true);
  });

  test('byte totals and ports match an awk pass over the columns', () => {
    // awk -F'\t' '!/^#/ {ob += $10; rb += $11}' -> 6707 9077; 17 flows to port 443; 37 responders
    expect(flows.reduce((sum, flow) => sum + (flow.bytesUp ?? 0), 0)).toBe(6707);
    expect(flows.reduce((sum, flow) => sum + (flow.bytesDown ?? 0), 0)).toBe(9077);
    expect(flows.filter((flow) => flow.port === 443)).toHaveLength(17);
    expect(new Set(flows.map((flow) => flow.destination)).size).toBe(37);
  });

  test('first record (line 9), every field', () => {
    expect(flows[0]).toEqual({
      start: 1521911721255,
      end: 1521911721259, // ts 1521911721.255387 + duration 0.004266
      origin: { kind: 'zeek-conn', file: sample('zeek-conn.log'), line: 9 },
      client: '10.164.94.120',
      host: null,
      sni: null,
      httpHost: null,
      destination: '10.47.3.155',
      port: 3389,
      protocol: 'tcp',
      component: null,
      bytesUp: 97,
      bytesDown: 19,
      sourceAddress: null,
      upstream: null,
      connectionId: 'C8Tful1TvM3Zf5x8fl',
      actualPath: 'unknown',
      actualPathEvidence: null,
    });
  });

  test('last record (line 100)', () => {
    expect(flows[91]).toMatchObject({
      origin: { line: 100 },
      start: 1521911720664,
      end: 1521911720670,
      connectionId: 'CC35pe1n2m9PAt2f77',
      destination: '10.47.3.200',
      port: 80,
      bytesUp: 324,
      bytesDown: 250,
    });
  });
});

describe('zeek dns.log (TSV, zeek btest baseline)', async () => {
  const { flows, problems, dns } = await collectFile(zeekFormat, sample('zeek-dns.log'));

  test('2 records, no problems', () => {
    expect(problems).toEqual([]);
    expect(flows).toHaveLength(2);
  });

  test('the query is the host; the resolver is not a destination', () => {
    expect(flows[0]).toMatchObject({
      origin: { kind: 'zeek-dns', line: 9 },
      start: 1363716396798,
      end: null,
      client: '55.247.223.174',
      host: 'www.cmu.edu',
      destination: null,
      port: null,
      protocol: 'dns',
      connectionId: 'CXWv6p3arKYeMETxOg',
    });
    expect(flows[1]).toMatchObject({ origin: { line: 10 }, host: null, start: 1363716396798 });
  });

  test('the A answer (not the CNAMEs) is linked to the query name', () => {
    expect(dns.nameOf('128.2.10.163')).toBe('www.cmu.edu');
    expect(dns.size).toBe(1);
  });
});

describe('zeek ssl.log', async () => {
  test('TSV with an old field set (1 record)', async () => {
    const { flows, problems } = await collectFile(zeekFormat, sample('zeek-ssl.log'));
    expect(problems).toEqual([]);
    expect(flows).toHaveLength(1);
    expect(flows[0]).toMatchObject({
      origin: { kind: 'zeek-ssl', line: 8 },
      start: 1335538392319,
      client: '192.168.1.105',
      destination: '74.125.224.79',
      port: 443,
      sni: 'ssl.gstatic.com',
      protocol: 'tls',
      connectionId: 'UWkUyAuUGXf',
    });
  });

  test('JSON lines (10 records, 7 with server_name)', async () => {
    const { flows, problems } = await collectFile(zeekFormat, sample('zeek-ssl.json'));
    expect(problems).toEqual([]);
    expect(flows).toHaveLength(10);
    expect(flows.every((flow) => flow.origin.kind === 'zeek-ssl')).toBe(true);
    expect(flows.filter((flow) => flow.sni !== null)).toHaveLength(7);
    expect(flows[0]).toMatchObject({
      start: 1547688736805,
      client: '10.178.98.102',
      destination: '89.160.20.156',
      port: 9243,
      sni: 'dd625ffb4fc54735b281862aa1cd6cd4.us-west1.gcp.cloud.es.io',
      connectionId: 'CAOvs1BMFCX2Eh0Y3',
    });
    expect(flows[4]).toMatchObject({ origin: { line: 5 }, sni: null, start: 1617091251151, port: 443 });
    expect(flows[5]).toMatchObject({
      client: '89.160.20.156',
      destination: '10.156.0.2',
      sni: 'splunk-api.swiftcrypto.com',
    });
  });
});

describe('zeek http.log (TSV fixture)', async () => {
  const { flows, problems } = await collectFile(zeekFormat, fixture('zeek-http.log'));

  test('3 records, no problems', () => {
    expect(problems).toEqual([]);
    expect(flows.map((flow) => flow.origin.line)).toEqual([9, 10, 11]);
  });

  test('Host header -> httpHost, port and case removed', () => {
    expect(flows[0]).toMatchObject({
      origin: { kind: 'zeek-http' },
      start: 1709287200123,
      client: '10.20.0.15',
      destination: '13.107.42.14',
      port: 80,
      protocol: 'http',
      httpHost: 'www.powerbi.com',
      host: null,
      connectionId: 'CHhAvVGS1DHFjwGM9',
    });
    expect(flows[1]).toMatchObject({
      client: '2001:db8:10::15',
      destination: '2001:db8:20::80',
      port: 8080,
      httpHost: '2001:db8:20::80',
      start: 1709287201500,
    });
    expect(flows[2]).toMatchObject({ httpHost: null, destination: '192.0.2.10' });
  });
});

describe('zeek JSON conn and dns (fixtures)', () => {
  test('conn: flat and nested id, epoch and ISO ts, icmp has no port', async () => {
    const { flows, problems } = await collectFile(zeekFormat, fixture('zeek-conn.json'));
    expect(problems).toEqual([]);
    expect(flows).toHaveLength(4);
    expect(flows[0]).toMatchObject({
      origin: { kind: 'zeek-conn', line: 1 },
      start: 1709287200500,
      end: 1709287201750,
      destination: '13.73.248.4',
      port: 443,
      bytesUp: 1200,
      bytesDown: 45000,
      connectionId: 'CxT8Cf2Ol8bQ0gGcB2',
    });
    expect(flows[1]).toMatchObject({
      start: Date.UTC(2024, 2, 1, 10, 0, 1, 250),
      end: null,
      client: '10.20.0.16',
      destination: '52.109.8.20',
      port: 443,
      bytesUp: null,
    });
    expect(flows[2]).toMatchObject({
      protocol: 'icmp',
      port: null,
      start: 1709287202000,
      end: 1709287202001,
    });
    expect(flows[3]).toMatchObject({ protocol: 'udp', port: 53, bytesDown: 120 });
  });

  test('dns: address answers become name pairs; 0.0.0.0 sinkhole answers do not', async () => {
    const { flows, problems, dns } = await collectFile(zeekFormat, fixture('zeek-dns.json'));
    expect(problems).toEqual([]);
    expect(flows.map((flow) => flow.host)).toEqual(['app.powerbi.com', 'app.powerbi.com', 'blocked.example']);
    expect(flows[0]).toMatchObject({ origin: { kind: 'zeek-dns' }, destination: null, start: 1709287199900 });
    expect(dns.nameOf('13.73.248.8')).toBe('app.powerbi.com');
    expect(dns.nameOf('2603:1020:200::12')).toBe('app.powerbi.com');
    expect(dns.nameOf('0.0.0.0')).toBeUndefined();
    expect(dns.size).toBe(2);
  });
});

describe('zeek: sections, unknown logs and malformed lines', async () => {
  const { flows, problems } = await collectFile(zeekFormat, fixture('zeek-mixed.log'));

  test('a files.log section is reported once and skipped; a second header starts a new section', () => {
    expect(problems[0]).toMatchObject({ line: 6, field: '#path' });
    expect(problems[0]?.message).toContain('"files"');
  });

  test('bad lines are reported with their numbers; the rest is read', () => {
    expect(problems.map((problem) => problem.line)).toEqual([6, 17, 18, 19, 20, 21]);
    expect(problems.slice(1).map((problem) => problem.field)).toEqual([
      'ts',
      'id.resp_h',
      undefined,
      'id.resp_p',
      undefined,
    ]);
    expect(flows.map((flow) => [flow.origin.line, flow.sni])).toEqual([
      [16, 'api.powerbi.com'],
      [22, 'x\ty.example'],
    ]);
  });

  test('data before any #fields header is reported once', async () => {
    const { flows: none, problems: once } = await collectFlows(
      zeekFormat,
      '1\tC\t10.0.0.1\n2\tC\t10.0.0.1\n',
    );
    expect(none).toEqual([]);
    expect(once).toHaveLength(1);
    expect(once[0]?.line).toBe(1);
  });

  test('a byte order mark before #separator is ignored', async () => {
    const text = readFileSync(sample('zeek-ssl.log'), 'utf8');
    const { flows: read, problems: none } = await collectFlows(zeekFormat, `\uFEFF${text}`);
    expect(none).toEqual([]);
    expect(read).toHaveLength(1);
  });

  test('unescapeZeek', () => {
    expect(unescapeZeek('a\\x09b\\x5cc')).toBe('a\tb\\c');
    expect(unescapeZeek('plain')).toBe('plain');
  });
});
