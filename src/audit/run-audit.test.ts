import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { isPathwardenError } from '../errors.js';
import type { FlowRecord } from '../flow/record.js';
import { parseVpcFields } from '../ingest/aws-vpc.js';
import { topologySchema } from '../policy/topology.js';
import type { FlowSink } from './flow-sink.js';
import { registryFormats } from './input-plan.js';
import { runAudit } from './run-audit.js';
import { at, builtinPolicy, fakeFormats } from './test-support.js';

const topology = topologySchema.parse({
  expressroute: { prefixes: ['13.73.248.0/24'], proxies: ['10.9.0.1:3128'] },
  internet: { proxies: ['10.9.0.2:3128'], sourceAddresses: ['10.20.0.6'] },
  default: 'internet',
});

let dir: string;
const file = (name: string, text: string | Buffer) => {
  const path = join(dir, name);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
  return path;
};
const audit = (inputs: string[], extra: Partial<Parameters<typeof runAudit>[0]> = {}) =>
  runAudit({
    inputs,
    policy: builtinPolicy(),
    topology,
    formats: fakeFormats(),
    now: () => new Date(0),
    ...extra,
  });

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pathwarden-audit-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const squidLines = [
  '#fake squid',
  `t=${at(0)} host=api.powerbi.com dst=13.73.248.5 port=443 up=100 down=1000 proxy=10.9.0.1 client=10.1.1.1`,
  `t=${at(1)} host=api.powerbi.com dst=13.73.248.5 port=443 up=50 down=500 proxy=10.9.0.2 client=10.1.1.2`,
  `t=${at(2)} host=content.powerapps.com dst=104.16.0.10 port=443 up=10 down=2000 proxy=10.9.0.2`,
  `t=${at(3)} host=www.example.com dst=198.51.100.7 up=1 down=2 proxy=10.9.0.2`,
  'bad missing fields',
  `t=${at(4)} host=app.powerbi.com component=mobile proxy=10.9.0.2`,
  `t=${at(5)} host=login.microsoftonline.com`,
].join('\n');

describe('runAudit', () => {
  test('classifies every flow once and names address-only flows from DNS logs read first', async () => {
    const squid = file('mix/a.squid', squidLines);
    const vpc = file('mix/b.vpc', `#fake vpc\nt=${at(6)} dst=52.123.1.10 src=10.20.0.6 up=5 down=5\n`);
    const dns = file(
      'mix/c.dns',
      `#fake dns\nt=${at(-1)} host=wabi-north-europe-redirect.analysis.windows.net answer=52.123.1.10\n`,
    );
    const report = await audit([squid, vpc, dns]);
    expect(report.verdicts).toEqual({
      ok: 1,
      leak: 2,
      exception: 1,
      unknown: 1,
      unverified: 2,
      'not-covered': 1,
    });
    expect(report.flows).toBe(8);
    expect(report.findings.leaks.items.map((leak) => leak.evidence)).toEqual([`${squid}:3`, `${vpc}:2`]);
    const vpcLeak = report.findings.leaks.items[1];
    expect(vpcLeak).toMatchObject({
      host: 'wabi-north-europe-redirect.analysis.windows.net',
      destination: '52.123.1.10',
      actualPathEvidence: 'source 10.20.0.6',
      rule: 'service.backend-api',
    });
    // The DNS log was read first although it was given last.
    expect(
      report.inputs.map((input) => [input.file, input.format, input.role, input.records, input.flows]),
    ).toEqual([
      [squid, 'squid', 'flows', 6, 6],
      [vpc, 'vpc', 'flows', 1, 1],
      [dns, 'dns', 'dns', 1, 1],
    ]);
    expect(report.dns.answers).toBe(1);
    expect(report.errors).toMatchObject({
      total: 1,
      byFile: { [squid]: 1 },
      problems: [{ file: squid, line: 6, message: 'missing fields' }],
    });
    expect(report.inputs[0]?.problems).toBe(1);
  });

  test('joins Zeek ssl records to conn records by uid; ssl without conn stays a flow', async () => {
    const conn = file(
      'zeek/conn.log',
      `#fake zeek\n#path\tconn\nt=${at(0)} uid=C1 dst=20.50.2.10 port=443 up=10 down=20\nt=${at(1)} uid=C2 dst=13.73.248.5 port=443 up=1 down=2\n`,
    );
    const ssl = file(
      'zeek/ssl.log',
      `#fake zeek\n#path\tssl\nt=${at(0)} uid=C1 sni=app.powerbi.com dst=20.50.2.10\nt=${at(2)} uid=C9 sni=dc.services.visualstudio.com dst=20.42.65.84\n`,
    );
    const flows: FlowRecord[] = [];
    const sink: FlowSink = {
      write: (flow) => {
        flows.push(flow);
        return undefined;
      },
      close: async () => {},
    };
    const report = await audit([conn, ssl], { sinks: [sink] });
    expect(report.flows).toBe(3);
    expect(report.zeek).toEqual({ joined: 1, unmatched: 1, overflow: 0 });
    expect(flows.map((flow) => [flow.origin.kind, flow.connectionId, flow.sni, flow.verdict])).toEqual([
      ['zeek-conn', 'C1', 'app.powerbi.com', 'exception'],
      ['zeek-conn', 'C2', null, 'ok'],
      ['zeek-ssl', 'C9', 'dc.services.visualstudio.com', 'exception'],
    ]);
    expect(report.inputs.map((input) => [input.log, input.role, input.records, input.flows])).toEqual([
      ['conn', 'zeek-conn', 2, 2],
      ['ssl', 'zeek-names', 2, 1],
    ]);
  });

  test('without conn logs, Zeek ssl records are plain flows', async () => {
    const ssl = file('zeek-only/ssl.log', `#fake zeek\n#path\tssl\nt=${at(0)} uid=C1 sni=app.powerbi.com\n`);
    const report = await audit([ssl]);
    expect(report.flows).toBe(1);
    expect(report.inputs[0]?.role).toBe('flows');
  });

  test('walks directories in name order, skips hidden files and lists unrecognised ones', async () => {
    file('tree/b/2.squid', `#fake squid\nt=${at(0)} host=api.powerbi.com proxy=10.9.0.1\n`);
    file('tree/a.squid', `#fake squid\nt=${at(0)} host=api.powerbi.com proxy=10.9.0.2\n`);
    file('tree/b/1.squid', `#fake squid\nt=${at(0)} host=api.powerbi.com proxy=10.9.0.1\n`);
    file('tree/.hidden', 'anything');
    file('tree/notes.txt', 'not a log');
    const report = await audit([join(dir, 'tree')]);
    expect(report.inputs.map((input) => [input.file.slice(dir.length + 1), input.status])).toEqual([
      ['tree/a.squid', 'read'],
      ['tree/b/1.squid', 'read'],
      ['tree/b/2.squid', 'read'],
      ['tree/notes.txt', 'skipped'],
    ]);
    expect(report.errors.inputs).toEqual([
      {
        file: join(dir, 'tree/notes.txt'),
        message: expect.stringContaining('skipped: format not recognised'),
      },
    ]);
    expect(report.verdicts.leak).toBe(1);
  });

  test('reports every unreadable or unrecognised named input at once, before reading any', async () => {
    const named = file('bad/notes.txt', 'not a log');
    const error = await audit([join(dir, 'bad/missing.log'), named]).catch((caught: unknown) => caught);
    expect(isPathwardenError(error)).toBe(true);
    if (!isPathwardenError(error)) return;
    expect(error.code).toBe('PW_ERR_INPUT_READ');
    expect(error.exitCode).toBe(2);
    expect(error.problems.map((problem) => [problem.location?.file, problem.message])).toEqual([
      [join(dir, 'bad/missing.log'), 'no such file or directory'],
      [named, expect.stringContaining('format not recognised')],
    ]);
    const formatOnly = await audit([named]).catch((caught: unknown) => caught);
    expect(isPathwardenError(formatOnly) && formatOnly.code).toBe('PW_ERR_INPUT_FORMAT');
  });

  test('--strict makes the first bad record fatal with its location', async () => {
    const squid = file('strict/a.squid', squidLines);
    const error = await audit([squid], { strict: true }).catch((caught: unknown) => caught);
    expect(isPathwardenError(error) && error.code).toBe('PW_ERR_INPUT_RECORD');
    expect((error as Error).message).toContain(`${squid}:6: missing fields`);
  });

  test('an input that fails while being read is reported and the others are still audited', async () => {
    // Flows of the chunk being parsed when the read fails are lost with it: here, the whole file.
    const broken = file('fail/a.squid', `#fake squid\nthrow\n`);
    const fine = file('fail/b.squid', `#fake squid\nt=${at(0)} host=api.powerbi.com proxy=10.9.0.2\n`);
    const report = await audit([broken, fine]);
    expect(report.inputs.map((input) => [input.status, input.message])).toEqual([
      ['failed', 'simulated read failure'],
      ['read', undefined],
    ]);
    expect(report.verdicts).toMatchObject({ ok: 0, leak: 1 });
    expect(report.errors.inputs).toEqual([{ file: broken, message: 'simulated read failure' }]);
  });

  test('reads gzip transparently and stdin as "-"', async () => {
    const gz = file('gz/a.squid.gz', gzipSync(Buffer.from(squidLines)));
    const stdin = new PassThrough();
    stdin.end(`#fake vpc\nt=${at(0)} dst=13.73.248.4 src=10.20.0.6\n`);
    const report = await audit([gz, '-'], { stdin });
    expect(
      report.inputs.map((input) => [input.file, input.format, input.compressed, input.size === null]),
    ).toEqual([
      [gz, 'squid', true, false],
      ['-', 'vpc', false, true],
    ]);
    expect(report.findings.leaks.items.map((leak) => [leak.evidence, leak.rule])).toEqual([
      [`${gz}:3`, 'service.backend-api'],
      ['-:2', 'service.powerbi-servicetag'],
    ]);
  });

  test('--format reads inputs without detection; an unknown format name is a usage error', async () => {
    const plain = file('forced/plain.log', `t=${at(0)} host=api.powerbi.com proxy=10.9.0.2\n`);
    const report = await audit([plain], { format: 'squid' });
    expect(report.verdicts.leak).toBe(1);
    const error = await audit([plain], { format: 'pcap' }).catch((caught: unknown) => caught);
    expect(isPathwardenError(error) && error.code).toBe('PW_ERR_USAGE');
  });

  test('an empty input is read as zero records, not an error', async () => {
    const empty = file('empty/nothing.log', '');
    const report = await audit([empty]);
    expect(report.inputs[0]).toMatchObject({ status: 'empty', records: 0, format: null });
    expect(report.flows).toBe(0);
  });

  test('without a topology every actual path is unknown and matched flows are unverified', async () => {
    const squid = file('notopo/a.squid', squidLines);
    const report = await audit([squid], { topology: undefined });
    expect(report.verdicts).toEqual({
      ok: 0,
      leak: 0,
      exception: 0,
      unknown: 1,
      unverified: 4,
      'not-covered': 1,
    });
    expect(report.topology).toEqual({ file: null, default: 'unknown' });
  });
});

describe('format options reach the parsers (issue 10, item 9)', () => {
  test('--vpc-fields through runAudit: a header-less CloudWatch export with custom fields', async () => {
    const path = file(
      'cloudwatch-vpc.log',
      '5 vpc-0123 eni-0a1b2c3d4e5f60718 egress 10.20.0.15 13.73.248.4 443 6 4800 1709287200 1709287260 ACCEPT OK\n',
    );
    const options = { formats: registryFormats, format: 'vpc' as const };
    const before = await audit([path], options);
    expect([before.inputs[0]?.flows, before.inputs[0]?.problems]).toEqual([0, 1]);
    const after = await audit([path], {
      ...options,
      formatOptions: {
        vpcFields: parseVpcFields(
          'version vpc-id interface-id flow-direction srcaddr dstaddr dstport protocol bytes start end action log-status',
        ),
      },
    });
    expect([after.inputs[0]?.flows, after.inputs[0]?.problems]).toEqual([1, 0]);
  });
});
