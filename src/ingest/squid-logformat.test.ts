// --squid-logformat: Squid's own logformat definitions read lines without code (issue 10, item 7).
import { describe, expect, test } from 'vitest';
import { isPathwardenError } from '../errors.js';
import type { FlowRecord } from '../flow/record.js';
import { collectFile, collectFlows } from './collect.js';
import { squidFormat } from './squid.js';
import { builtinLogformats, compileSquidLogformat } from './squid-logformat.js';
import { sample } from './test-files.js';

const withFormat = (squidLogformat: string) => ({ formatOptions: { squidLogformat } });
/** The fields a log line can give, without the origin (compared across parsers). */
const fieldsOf = (flows: FlowRecord[]) =>
  flows.map(({ origin, ...rest }) => ({ line: origin.line, ...rest }));

describe('built-in formats, written out as logformat definitions', () => {
  test('`squid` read by its definition gives what the native parser gives on the real sample', async () => {
    const native = await collectFile(squidFormat, sample('squid-access.log'));
    const byDefinition = await collectFile(
      squidFormat,
      sample('squid-access.log'),
      withFormat(builtinLogformats.squid as string),
    );
    expect(byDefinition.problems).toEqual([]);
    expect(byDefinition.flows).toHaveLength(100);
    expect(fieldsOf(byDefinition.flows)).toEqual(fieldsOf(native.flows));
  });

  test('`common` and `combined` by name give what the common-format parser gives', async () => {
    const common = [
      '10.1.2.3 - alice [15/Nov/2023:10:00:00 +0100] "CONNECT app.powerbi.com:443 HTTP/1.1" 200 5120 TCP_TUNNEL:HIER_DIRECT',
      '10.1.2.4 - - [15/Nov/2023:10:00:02 -0030] "GET http://denied.example/ HTTP/1.1" 403 - TCP_DENIED:HIER_NONE',
    ].join('\n');
    const combined =
      '10.1.2.3 - - [15/Nov/2023:10:00:01.250 +0100] "GET http://www.example.com/index.html HTTP/1.1" 200 2326 "http://ref.example/" "Mozilla/5.0 (X11)" TCP_MISS:HIER_DIRECT';
    for (const [name, text] of [
      ['common', common],
      ['combined', combined],
    ] as const) {
      const builtIn = await collectFlows(squidFormat, text);
      const byName = await collectFlows(squidFormat, text, withFormat(name));
      expect(byName.problems, name).toEqual([]);
      expect(byName.flows.length, name).toBeGreaterThan(0);
      // The built-in parser keeps `%Ss:%Sh` as evidence; the definition reads Sh as the hierarchy.
      const strip = (flows: FlowRecord[]) => fieldsOf(flows).map(({ actualPathEvidence, ...rest }) => rest);
      expect(strip(byName.flows), name).toEqual(strip(builtIn.flows));
    }
  });
});

describe('custom formats', () => {
  const format =
    '%ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt "%{User-Agent}>h" %ssl::>sni %<la %>st';
  const line =
    '1764790935.010    250 10.1.2.3 TCP_TUNNEL/200 5120 CONNECT app.powerbi.com:443 - FIRSTUP_PARENT/10.9.0.1 - "Mozilla/5.0 (Windows NT 10.0)" app.powerbi.com 10.20.0.5 880';

  test('before: a line with extra fields is a problem; with its logformat: every field read', async () => {
    const before = await collectFlows(squidFormat, line);
    expect(before.flows.length === 1 && before.flows[0]?.sni !== null).toBe(false);
    const { flows, problems } = await collectFlows(squidFormat, line, withFormat(format));
    expect(problems).toEqual([]);
    expect(flows).toHaveLength(1);
    expect(flows[0]).toMatchObject({
      start: 1764790935010 - 250,
      end: 1764790935010,
      client: '10.1.2.3',
      host: 'app.powerbi.com',
      port: 443,
      protocol: 'https',
      sni: 'app.powerbi.com',
      bytesDown: 5120,
      bytesUp: 880,
      upstream: '10.9.0.1',
      sourceAddress: '10.20.0.5',
      actualPathEvidence: 'FIRSTUP_PARENT/10.9.0.1',
    });
  });

  test('domain, port and scheme codes; client FQDN; strftime time; quoted Host header', async () => {
    const custom = '%{%Y-%m-%d %H:%M:%S}tl %>A %>rs %>rd %>rP %"{Host}>h %<A %Sh';
    const { flows, problems } = await collectFlows(
      squidFormat,
      [
        '2025-12-03 19:42:15 laptop.corp.example https api.powerbi.com 443 "api.powerbi.com:443" 13.73.248.4 HIER_DIRECT',
        '2025-12-03 19:42:16 laptop.corp.example - - - "content.powerapps.com" - HIER_NONE',
      ].join('\n'),
      withFormat(custom),
    );
    expect(problems).toEqual([]);
    expect(
      flows.map((flow) => [
        flow.start,
        flow.client,
        flow.host,
        flow.port,
        flow.protocol,
        flow.httpHost,
        flow.destination,
      ]),
    ).toEqual([
      [
        Date.UTC(2025, 11, 3, 19, 42, 15),
        'laptop.corp.example',
        'api.powerbi.com',
        443,
        'https',
        'api.powerbi.com',
        '13.73.248.4',
      ],
      [
        Date.UTC(2025, 11, 3, 19, 42, 16),
        'laptop.corp.example',
        null,
        null,
        null,
        'content.powerapps.com',
        null,
      ],
    ]);
  });

  test('located problems: a line that does not match, a bad size, a line naming nothing', async () => {
    const { flows, problems } = await collectFlows(
      squidFormat,
      [
        '1764790935.010 10 10.1.2.3 TCP_MISS/200 12x GET http://a.example/ - HIER_NONE/- -',
        'short',
        '1764790935.010 10 10.1.2.3 TCP_MISS/200 1 GET http://b.example/ - HIER_NONE/- -',
      ].join('\n'),
      withFormat('squid'),
    );
    expect(flows.map((flow) => flow.host)).toEqual(['b.example']);
    expect(problems.map((problem) => [problem.line, problem.field])).toEqual([
      [1, '%<st'],
      [2, undefined],
    ]);
  });

  test('definition errors are usage errors with the column', () => {
    const failure = (text: string) => {
      try {
        compileSquidLogformat(text);
      } catch (error) {
        if (isPathwardenError(error)) return `${error.code}: ${error.message}`;
        throw error;
      }
      return 'compiled';
    };
    expect(failure('%ts %>a %zz %ru')).toBe(
      'PW_ERR_USAGE: --squid-logformat: unknown format code at column 9: "%zz %ru"',
    );
    expect(failure('%ts %>a %Ss')).toMatch(/^PW_ERR_USAGE: --squid-logformat names no destination/);
    expect(failure('%{%Q}tl %ru')).toMatch(/time format %Q/);
    expect(failure('%ts %{Referer %ru')).toMatch(/unclosed \{/);
    expect(failure(builtinLogformats.combined as string)).toBe('compiled');
  });
});
