import { Readable } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { defineFormat, lineBatches } from './batches.js';
import { collectFile, collectFlows } from './collect.js';
import { DnsAnswers } from './dns-answers.js';
import { type FlowCounter, type FlowFacts, fnv1a } from './flow-facts.js';
import type { IngestContext } from './format.js';
import { createSquidLineParser, hierarchyKind, parseClfTime, squidFormat } from './squid.js';
import { fixture, sample } from './test-files.js';

/**
 * Native lines (each given without its time, which is added) read by the fast path and by the
 * string parser alone: the two results must be equal. Returns the fast path's.
 */
async function fastAgreesWithSlow(rest: string[]) {
  const slowFormat = defineFormat({ ...squidFormat, parseBatches: lineBatches(createSquidLineParser) });
  const text = rest.map((line, i) => `1700000000.${String(i).padStart(3, '0')} ${line}\n`).join('');
  const fast = await collectFlows(squidFormat, text);
  expect(fast).toEqual(await collectFlows(slowFormat, text));
  return fast;
}

describe('squid: real sample (elastic/integrations test-access.log)', async () => {
  const { flows, problems } = await collectFile(squidFormat, sample('squid-access.log'));

  test('100 lines, 100 flows, no problems', () => {
    expect(problems).toEqual([]);
    expect(flows).toHaveLength(100);
  });

  test('aggregates match an awk pass over the file', () => {
    // awk '{b+=$5; if ($9 ~ /^NONE/) none++; if ($6 == "CONNECT") c++}' -> 578214 32 9
    expect(flows.reduce((sum, flow) => sum + (flow.bytesDown ?? 0), 0)).toBe(578214);
    expect(flows.filter((flow) => flow.destination === null)).toHaveLength(32);
    expect(flows.filter((flow) => flow.protocol === 'https')).toHaveLength(9);
    expect(flows.every((flow) => flow.upstream === null && flow.bytesUp === null)).toBe(true);
  });

  test('line 1: CONNECT with DIRECT/<ip>', () => {
    expect(flows[0]).toEqual({
      start: 1157689312049 - 5006,
      end: 1157689312049,
      origin: { kind: 'squid', file: sample('squid-access.log'), line: 1 },
      client: '10.105.21.199',
      host: 'login.yahoo.com',
      sni: null,
      httpHost: null,
      destination: '175.16.199.115',
      port: 443,
      protocol: 'https',
      component: null,
      bytesUp: null,
      bytesDown: 19763,
      sourceAddress: null,
      upstream: null,
      connectionId: null,
      actualPath: 'unknown',
      // DIRECT: the destination address is the evidence; the field is not copied.
      actualPathEvidence: null,
    });
  });

  test('line 22: TCP_DENIED with NONE/- has no destination', () => {
    expect(flows[21]).toMatchObject({
      start: 1157689337477,
      end: 1157689337481,
      client: '10.105.47.218',
      host: 'hi5.com',
      port: 80,
      protocol: 'http',
      destination: null,
      bytesDown: 1661,
      actualPathEvidence: 'NONE/-',
      origin: { line: 22 },
    });
  });

  test('line 70: explicit port in the URL; line 95: DIRECT to a second address', () => {
    expect(flows[69]).toMatchObject({ host: 'natrocket.kmip.net', port: 5288, start: 1157689367871 });
    expect(flows[94]).toMatchObject({
      host: 'us.js2.yimg.com',
      destination: '67.43.156.169',
      bytesDown: 633,
      start: 1157689381488,
      end: 1157689384316,
    });
    expect(flows[99]).toMatchObject({ client: '81.2.69.145', host: 'us.i1.yimg.com', bytesDown: 26803 });
  });

  test('the byte-level fast path and the string parser agree on every line', async () => {
    const slowFormat = defineFormat({ ...squidFormat, parseBatches: lineBatches(createSquidLineParser) });
    for (const name of ['squid-access.log']) {
      const slow = await collectFile(slowFormat, sample(name));
      expect(slow.problems).toEqual([]);
      expect(slow.flows).toEqual(flows);
    }
    for (const name of ['squid-hierarchy.log', 'squid-malformed.log', 'squid-common.log']) {
      const fast = await collectFile(squidFormat, fixture(name));
      const slow = await collectFile(slowFormat, fixture(name));
      expect(slow).toEqual(fast);
    }
  });

  test('the fast path and the string parser agree on odd URLs and ports', async () => {
    const urls = [
      'CONNECT host.example:443',
      'CONNECT Host.Example:8443',
      'CONNECT host.example',
      'CONNECT host.example:',
      'CONNECT host.example:123456',
      'CONNECT host.example:99999',
      'CONNECT host.example:00443',
      'CONNECT [2001:db8::1]:443',
      'CONNECT user@host.example:443',
      'CONNECT host.example:44a3',
      'CONNECT :443',
      'CONNECT host.example:443/x',
      'GET http://h.example:8080/x:y',
      'GET http://h.example:/x',
      'GET http://h.example:0080/',
      'GET http://h.example:65536/',
      'GET http://user@h.example/',
      'GET http://h.example?q=1',
      'GET http://h.example#f',
      'GET http://h.example',
      'GET https://H.Example:444',
      'GET http://h.example:1:2/',
      'GET http:/h.example/',
      'GET ftp://h.example/',
      'GET http:///x',
      'GET http://a.example\\b/',
      'GET http://h.example\\@evil.example/',
      'GET http://bücher.example/',
      'CONNECT bücher.example:443',
      'GET http://h.ex%41mple/',
      'GET http://h.example<x>/',
      'GET http://h.example\t/',
      'CONNECT host/x.example:443',
      'CONNECT host?x#y.example:443',
      'CONNECT host.example:443?x',
      'CONNECT host.example:44:3',
      'CONNECT HOST.EXAMPLE:443',
      'GET http://h.example:80#f',
      'GET http://h.example:80?q',
      'GET http://h.example:8a/',
      'GET http://h.example:/',
      'GET http://h.Ex@mple/',
      'GET http://h.example[1]/',
      'GET https://:443/',
    ];
    const fast = await fastAgreesWithSlow(
      urls.map((url) => `5 10.1.0.1 TCP_MISS/200 10 ${url} - HIER_DIRECT/93.184.216.34 -`),
    );
    expect(fast.flows.length).toBeGreaterThan(10);
    expect(fast.problems.length).toBeGreaterThan(3);
  });

  test('the fast path and the string parser agree on odd hierarchy fields', async () => {
    const fields = [
      'HIER_DIRECT/93.184.216.34 -',
      'HIER_DIRECT/93.184.216.34',
      'HIER_DIRECT/ -',
      'HIER_DIRECT/- -',
      'HIER_DIRECT -',
      'HIER_DIRECT',
      '/93.184.216.34 -',
      'FIRSTUP_PARENT/10.9.0.1 -',
      'FIRSTUP_PARENT/10.9.0.1',
      'FIRSTUP_PARENT/ -',
      'FIRSTUP_PARENT/10.9.0.1/x -',
      'FIRSTUP_PARENT//10.9.0.1 -',
      'HIER_NONE/- -',
      'SOMETHING_ELSE/10.9.0.1 -',
      'DIRECT/93.184.216.34 -',
      'HIER_DIRECT/h.example -',
    ];
    const fast = await fastAgreesWithSlow(
      fields.map((field) => `5 10.1.0.1 TCP_MISS/200 10 CONNECT h.example:443 - ${field}`),
    );
    expect(fast.flows.length).toBeGreaterThan(8);
    expect(fast.problems.length).toBeGreaterThan(1);
  });

  test('the fast path and the string parser agree on odd methods, hierarchy codes and non-ASCII fields', async () => {
    const lines = [
      // Seven letters starting with CO are not CONNECT.
      '5 10.1.0.1 TCP_MISS/200 10 COPYXYZ a/b:443 - HIER_DIRECT/93.184.216.34 -',
      '5 10.1.0.1 TCP_MISS/200 10 CONNECX h.example:443 - HIER_DIRECT/93.184.216.34 -',
      // Codes of the right length that are not HIER_DIRECT / DIRECT.
      '5 10.1.0.1 TCP_MISS/200 10 CONNECT h.example:443 - HIER_DIRECX/93.184.216.34 -',
      '5 10.1.0.1 TCP_MISS/200 10 CONNECT h.example:443 - DIxxxx/93.184.216.34 -',
      '5 10.1.0.1 TCP_MISS/200 10 CONNECT h.example:443 - HIXX_DIRECT/93.184.216.34 -',
      // UTF-8 in the peer and in the client: read as UTF-8 by both.
      '5 10.1.0.1 TCP_MISS/200 10 CONNECT h.example:443 - FIRSTUP_PARENT/péer.example -',
      '5 10.1.0.1 TCP_MISS/200 10 CONNECT h.example:443 - HIER_DIRECT/nämé.example -',
      '5 clïent TCP_MISS/200 10 CONNECT h.example:443 - FIRSTUP_PARENT/10.9.0.1 -',
      // UTF-8 in the hierarchy code itself: the evidence keeps the field as UTF-8 on both ways.
      '5 10.1.0.1 TCP_MISS/200 10 CONNECT h.example:443 - FIRSTUP_PARENTé/10.9.0.1 -',
      '5 10.1.0.1 TCP_MISS/200 10 CONNECT h.example:443 - HIER_DIRECTé/93.184.216.34 -',
      '5 10.1.0.1 TCP_MISS/200 10 CONNECT h.example:443 - é/93.184.216.34 -',
    ];
    const fast = await fastAgreesWithSlow(lines);
    expect(fast.flows.length).toBeGreaterThan(4);
    expect(fast.flows.map((flow) => flow.upstream)).toContain('péer.example');
  });

  test('the fast path and the string parser agree on every one-byte change of CONNECT, HIER_DIRECT and DIRECT', async () => {
    // The scanner compares these three words with constants: each position matters.
    const changed = (word: string) =>
      Array.from(word, (_, k) => `${word.slice(0, k)}${word[k] === 'X' ? 'Y' : 'X'}${word.slice(k + 1)}`);
    const line = (client: string, method: string, hierarchy: string, rest = ' -') =>
      `5 ${client} TCP_MISS/200 10 ${method} h.example:443 - ${hierarchy}${rest}`;
    const lines = [
      ...changed('CONNECT').map((method) => line('10.1.0.1', method, 'HIER_DIRECT/93.184.216.34')),
      ...changed('HIER_DIRECT').map((code) => line('10.1.0.1', 'CONNECT', `${code}/93.184.216.34`)),
      ...changed('DIRECT').map((code) => line('10.1.0.1', 'CONNECT', `${code}/93.184.216.34`)),
      // OPTIONS: seven letters, not CONNECT.
      line('10.1.0.1', 'OPTIONS', 'HIER_DIRECT/93.184.216.34'),
      // A non-ASCII peer after an ASCII client, a non-ASCII client, and a peer that ends the line.
      line('10.1.0.1', 'CONNECT', 'HIER_DIRECT/9\u00e93.184.216.34'),
      line('10.1.0.1\u00e9', 'CONNECT', 'HIER_DIRECT/93.184.216.34'),
      line('10.1.0.1', 'CONNECT', 'FIRSTUP_PARENT/10.9.0.\u00e9', ''),
      line('10.1.0.1', 'CONNECT', 'FIRSTUP_PARENT/10.9.0.1', ''),
    ];
    const fast = await fastAgreesWithSlow(lines);
    expect(fast.flows.length).toBeGreaterThan(20);
  });

  test('an elapsed time longer than the time since 1970 is a located problem, not a crash', async () => {
    const { flows, problems } = await fastAgreesWithSlow([
      '9000000000000000 10.1.0.1 TCP_MISS/200 10 GET http://h.example/ - HIER_DIRECT/93.184.216.34 -',
      '99999999999999999999 10.1.0.1 TCP_MISS/200 10 GET http://h.example/ - HIER_DIRECT/93.184.216.34 -',
      '1700000000003 10.1.0.1 TCP_MISS/200 10 GET http://h.example/ - HIER_DIRECT/93.184.216.34 -',
      '1700000000001 10.1.0.1 TCP_MISS/200 10 GET http://ok.example/ - HIER_DIRECT/93.184.216.34 -',
    ]);
    expect(problems.map((problem) => [problem.line, problem.field])).toEqual([
      [1, 'elapsed'],
      [2, 'elapsed'],
      [3, 'elapsed'],
    ]);
    // Ends at 1700000000.003 s: an elapsed of 1700000000001 ms starts it at 1970-01-01T00:00:00.002Z.
    expect(flows.map((flow) => [flow.host, flow.start])).toEqual([['ok.example', 2]]);
  });

  test('parse() one by one gives the same flows as the batches', async () => {
    const oneByOne = await collectFile(squidFormat, sample('squid-access.log'), { oneByOne: true });
    expect(oneByOne.flows).toEqual(flows);
  });
});

describe('squid: hierarchy codes', async () => {
  const { flows, problems } = await collectFile(squidFormat, fixture('squid-hierarchy.log'));

  test('7 flows (the error: pseudo-request is not one), no problems', () => {
    expect(problems).toEqual([]);
    expect(flows.map((flow) => flow.origin.line)).toEqual([1, 2, 3, 4, 5, 7, 8]);
  });

  test('FIRSTUP_PARENT/peer -> upstream, no destination', () => {
    expect(flows[0]).toMatchObject({
      start: 1700000000123 - 250,
      end: 1700000000123,
      host: 'app.powerbi.com',
      port: 443,
      upstream: '10.9.0.1',
      destination: null,
      bytesDown: 5120,
      actualPathEvidence: 'FIRSTUP_PARENT/10.9.0.1',
    });
  });

  test('HIER_DIRECT/ip -> destination; HIER_NONE -> nothing', () => {
    expect(flows[1]).toMatchObject({ host: 'api.powerbi.com', port: 443, protocol: 'https' });
    expect(flows[1]).toMatchObject({ destination: '13.73.248.4', actualPathEvidence: null });
    expect(flows[2]).toMatchObject({
      host: 'evil.example',
      destination: null,
      upstream: null,
      actualPathEvidence: 'HIER_NONE/-',
    });
  });

  test('IPv6 client, bracketed URL host and IPv6 destination', () => {
    expect(flows[3]).toMatchObject({
      client: '2001:db8::7',
      host: '2001:db8::80',
      port: 8080,
      protocol: 'http',
      destination: '2001:db8::80',
    });
  });

  test('TIMEOUT_CARP peer is an upstream; URL host lower-cased', () => {
    expect(flows[4]).toMatchObject({ host: 'www.example.com', port: 80, upstream: 'proxy-er.corp.example' });
  });

  test('DIRECT/<name> (log_ip_on_direct off) gives no destination address', () => {
    expect(flows[5]).toMatchObject({
      host: 'origin.example',
      destination: null,
      upstream: null,
      actualPathEvidence: 'HIER_DIRECT/origin.example',
    });
    expect(flows[6]).toMatchObject({ host: 'dc.services.visualstudio.com', upstream: '10.9.0.2' });
  });

  test('hierarchyKind', () => {
    expect(hierarchyKind('HIER_DIRECT')).toBe('destination');
    expect(hierarchyKind('DIRECT')).toBe('destination');
    expect(hierarchyKind('ORIGINAL_DST')).toBe('destination');
    expect(hierarchyKind('PINNED')).toBe('destination');
    expect(hierarchyKind('FIRSTUP_PARENT')).toBe('upstream');
    expect(hierarchyKind('SIBLING_HIT')).toBe('upstream');
    expect(hierarchyKind('CD_PARENT_HIT')).toBe('upstream');
    expect(hierarchyKind('SOURCEHASH_PARENT')).toBe('upstream');
    expect(hierarchyKind('HIER_NONE')).toBe('none');
    expect(hierarchyKind('NONE')).toBe('none');
    expect(hierarchyKind('SOMETHING_NEW')).toBe('unknown');
  });

  test('a byte order mark before the first line is ignored', async () => {
    const line = '1700000000.000 1 10.0.0.1 TCP_MISS/200 1 GET http://a.example/ - HIER_DIRECT/192.0.2.1 -\n';
    const { flows: read, problems: none } = await collectFlows(squidFormat, `\uFEFF${line}`);
    expect(none).toEqual([]);
    expect(read[0]).toMatchObject({ host: 'a.example', start: 1699999999999 });
  });

  test('an unknown hierarchy code is reported once, the flows are kept', async () => {
    const line = '1700000000.000 1 10.0.0.1 TCP_MISS/200 1 GET http://a.example/ - ODD_CODE/10.0.0.9 -\n';
    const { flows: odd, problems: oddProblems } = await collectFlows(squidFormat, line + line);
    expect(odd).toHaveLength(2);
    expect(odd[0]).toMatchObject({
      destination: null,
      upstream: null,
      actualPathEvidence: 'ODD_CODE/10.0.0.9',
    });
    expect(oddProblems).toHaveLength(1);
    expect(oddProblems[0]).toMatchObject({ line: 1, field: 'hierarchy' });
  });
});

describe('squid: common and combined format (CRLF line ends)', async () => {
  const { flows, problems } = await collectFile(squidFormat, fixture('squid-common.log'));

  test('3 flows, no problems', () => {
    expect(problems).toEqual([]);
    expect(flows).toHaveLength(3);
  });

  test('fields', () => {
    expect(flows[0]).toMatchObject({
      start: Date.UTC(2023, 10, 15, 9, 0, 0),
      end: null,
      client: '10.1.2.3',
      host: 'app.powerbi.com',
      port: 443,
      protocol: 'https',
      bytesDown: 5120,
      actualPathEvidence: 'TCP_TUNNEL:HIER_DIRECT',
    });
    expect(flows[1]).toMatchObject({
      start: Date.UTC(2023, 10, 15, 9, 0, 1),
      host: 'www.example.com',
      port: 80,
      protocol: 'http',
      bytesDown: 2326,
    });
    expect(flows[2]).toMatchObject({
      start: Date.UTC(2023, 10, 15, 10, 30, 2),
      host: 'denied.example',
      bytesDown: null,
      actualPathEvidence: 'TCP_DENIED:HIER_NONE',
    });
  });

  test('parseClfTime', () => {
    expect(parseClfTime('10/Oct/2000:13:55:36 -0700')).toBe(Date.UTC(2000, 9, 10, 20, 55, 36));
    expect(parseClfTime('10/Foo/2000:13:55:36 -0700')).toBeNaN();
    expect(parseClfTime('10/Oct/2000:13:55:36')).toBeNaN();
  });
});

describe('squid: common / combined time with milliseconds (issue 10, item 7)', () => {
  // frontier-squid's access.log: `[%{%d/%b/%Y:%H:%M:%S.%03u %z}tl]`-style times with milliseconds.
  const lines = [
    '10.1.2.3 - - [03/Dec/2025:12:42:15.010 -0700] "GET http://cvmfs.example.org/data/x HTTP/1.1" 200 1234 TCP_MISS:HIER_DIRECT',
    '10.1.2.4 - - [03/Dec/2025:12:42:16.5 -0700] "CONNECT app.powerbi.com:443 HTTP/1.1" 200 99 "-" "agent" TCP_TUNNEL:HIER_DIRECT',
  ].join('\n');

  test('parseClfTime reads 1 to 9 fraction digits, truncated to milliseconds', () => {
    expect(parseClfTime('03/Dec/2025:12:42:15.010 -0700')).toBe(Date.UTC(2025, 11, 3, 19, 42, 15, 10));
    expect(parseClfTime('03/Dec/2025:12:42:15.123456 +0000')).toBe(Date.UTC(2025, 11, 3, 12, 42, 15, 123));
    expect(parseClfTime('03/Dec/2025:12:42:15. -0700')).toBeNaN();
    expect(parseClfTime('03/Dec/2025:12:42:15.01x -0700')).toBeNaN();
  });

  test('lines are read and detected as squid', async () => {
    expect(squidFormat.sniff(Buffer.from(lines))).toBeGreaterThanOrEqual(0.5);
    const { flows, problems } = await collectFlows(squidFormat, lines);
    expect(problems).toEqual([]);
    expect(flows.map((flow) => [flow.start, flow.host, flow.port])).toEqual([
      [Date.UTC(2025, 11, 3, 19, 42, 15, 10), 'cvmfs.example.org', 80],
      [Date.UTC(2025, 11, 3, 19, 42, 16, 500), 'app.powerbi.com', 443],
    ]);
  });
});

describe('squid: malformed lines', async () => {
  const { flows, problems } = await collectFile(squidFormat, fixture('squid-malformed.log'));

  test('bad lines are reported with their line numbers, the rest is read', () => {
    expect(problems.map((problem) => problem.line)).toEqual([2, 3, 4, 6, 7]);
    expect(problems[1]).toMatchObject({ field: 'time' });
    expect(problems[2]).toMatchObject({ field: 'bytes' });
    expect(problems[3]).toMatchObject({ field: 'url' });
    expect(flows.map((flow) => [flow.origin.line, flow.host])).toEqual([
      [1, 'ok.example'],
      [8, 'last.example'],
      [9, 'no-newline.example'],
    ]);
  });
});

describe('Squid native fast path: what it offers a counter', () => {
  test("the name's hash, computed while the host is read, is fnv1a of the name's bytes", async () => {
    const lines = [
      '1700000000.000 5 10.1.0.1 TCP_TUNNEL/200 10 CONNECT Api.PowerBI.com:443 - FIRSTUP_PARENT/10.9.0.1 -',
      '1700000000.001 5 10.1.0.1 TCP_MISS/200 10 GET http://www.example.com:8080/a:b?c=d - HIER_DIRECT/93.184.216.34 text/html',
      '1700000000.002 5 10.1.0.1 TCP_MISS/200 10 GET https://login.microsoftonline.com/x - DIRECT/13.73.248.9 -',
      '1700000000.003 5 10.1.0.1 TCP_MISS/200 10 GET http://h/ - CARP/peer.example -',
    ];
    const offered: [string, number, number][] = [];
    const counter: FlowCounter = {
      taken: 0,
      count(facts: FlowFacts) {
        offered.push([
          facts.bytes.toString('latin1', facts.nameStart, facts.nameEnd),
          facts.nameHash,
          fnv1a(facts.bytes, facts.nameStart, facts.nameEnd),
        ]);
        return true;
      },
      take() {},
    };
    const ctx: IngestContext = { file: 'x', dns: new DnsAnswers(), problem: () => {}, counter };
    const input = Readable.from([Buffer.from(`${lines.join('\n')}\n`)]);
    // Every line is counted: no record is built.
    for await (const batch of squidFormat.parseBatches?.(input, ctx) ?? []) expect(batch).toEqual([]);
    expect(offered.map(([name]) => name)).toEqual([
      'Api.PowerBI.com',
      'www.example.com',
      'login.microsoftonline.com',
      'h',
    ]);
    for (const [name, hash, expected] of offered) expect(hash, name).toBe(expected);
  });
});
