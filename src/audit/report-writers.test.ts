import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { FlowRecord } from '../flow/record.js';
import { topologySchema } from '../policy/topology.js';
import { verdicts } from '../policy/verdict.js';
import type { AuditReport } from './audit-report.js';
import { flowColumns, flowFields } from './flow-row.js';
import type { FlowSink } from './flow-sink.js';
import { csvField, csvSink } from './report-csv.js';
import { renderHtmlReport } from './report-html.js';
import { renderJsonReport } from './report-json.js';
import { renderJunitReport } from './report-junit.js';
import { ndjsonSink } from './report-ndjson.js';
import { renderTerminalReport } from './report-terminal.js';
import { runAudit } from './run-audit.js';
import { at, builtinPolicy, fakeFormats } from './test-support.js';
import { checkWellFormedXml, parseCsv } from './test-xml-csv.js';

const topology = topologySchema.parse({
  expressroute: { prefixes: ['13.73.248.0/24'], proxies: ['10.9.0.1:3128'] },
  internet: { proxies: ['10.9.0.2:3128'] },
  default: 'internet',
});

let dir: string;
let report: AuditReport;
let ndjson = '';
let csv = '';
const flows: FlowRecord[] = [];

async function collect(stream: PassThrough): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += String(chunk);
  return text;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pathwarden-writers-'));
  const lines = ['#fake squid'];
  for (let i = 0; i < 30; i++) {
    lines.push(
      `t=${at(i)} host=api.powerbi.com dst=13.73.248.5 port=443 up=${i} down=${10 * i} proxy=10.9.0.${i % 3 === 0 ? 2 : 1} client=10.1.1.${i}`,
    );
  }
  lines.push(`t=${at(40)} host=content.powerapps.com proxy=10.9.0.2 up=5 down=50`);
  lines.push(`t=${at(41)} host=odd,name"quoted.example proxy=10.9.0.2 up=1 down=1`);
  lines.push(`t=${at(42)} host=www.example.com proxy=10.9.0.2 up=1 down=1`);
  lines.push('bad a <broken> & "quoted" line');
  const file = join(dir, 'access.log');
  writeFileSync(file, lines.join('\n'));
  const ndjsonOut = new PassThrough();
  const csvOut = new PassThrough();
  const recorder: FlowSink = {
    write: (flow) => {
      flows.push(structuredClone(flow));
      return undefined;
    },
    close: async () => {},
  };
  const texts = Promise.all([collect(ndjsonOut), collect(csvOut)]);
  report = await runAudit({
    inputs: [file],
    policy: builtinPolicy(),
    topology,
    topologyFile: 'topology.yaml',
    formats: fakeFormats(),
    sinks: [ndjsonSink(ndjsonOut), csvSink(csvOut), recorder],
    now: () => new Date(Date.UTC(2026, 10, 24)),
    limits: { leaks: 8 },
  });
  ndjsonOut.end();
  csvOut.end();
  [ndjson, csv] = await texts;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('--json', () => {
  test('has the documented top level with all six verdict keys, zeros included', () => {
    const parsed = JSON.parse(renderJsonReport(report)) as AuditReport;
    expect(Object.keys(parsed.verdicts)).toEqual([...verdicts]);
    expect(parsed.verdicts).toEqual({
      ok: 20,
      leak: 10,
      exception: 1,
      unknown: 2,
      unverified: 0,
      'not-covered': 0,
    });
    expect(parsed).toMatchObject({
      schema: 'pathwarden.audit/v1',
      flows: 33,
      catalog: { name: 'powerbi' },
      topology: { file: 'topology.yaml', default: 'internet' },
      errors: { total: 1 },
      inputs: [{ format: 'squid', records: 33, flows: 33, problems: 1, status: 'read' }],
    });
    for (const key of [
      'bytes',
      'findings',
      'errors',
      'timeSeries',
      'destinations',
      'rules',
      'activities',
      'paths',
    ]) {
      expect(parsed).toHaveProperty(key);
    }
    expect(parsed.findings.leaks).toMatchObject({ total: 10, omitted: 2 });
    expect(parsed.findings.leaks.items).toHaveLength(8);
    for (const path of ['expressroute', 'internet', 'unknown'])
      expect(parsed.bytes.byPath).toHaveProperty(path);
    for (const tally of [...Object.values(parsed.paths), ...parsed.rules]) {
      expect(Object.keys(tally.verdicts)).toEqual([...verdicts]);
    }
  });
});

describe('--ndjson', () => {
  test('one classified FlowRecord per line that parses back to the record', () => {
    const lines = ndjson.trimEnd().split('\n');
    expect(lines).toHaveLength(33);
    const parsed = lines.map((line) => JSON.parse(line) as FlowRecord);
    expect(parsed).toEqual(flows);
    expect(Object.keys(parsed[0] as object)).toEqual(
      flowFields.filter((field) => !['egressPath', 'outcome', 'error'].includes(field)),
    );
    expect(parsed[0]?.verdict).toBe('leak');
  });
});

describe('--csv', () => {
  test('quotes per RFC 4180', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField(null)).toBe('');
    expect(csvField(42)).toBe('42');
  });

  test('a header row of FlowRecord fields, then one CRLF row per flow that reads back', () => {
    expect(csv.startsWith(`${flowColumns.join(',')}\r\n`)).toBe(true);
    const rows = parseCsv(csv);
    expect(rows[0]).toEqual([...flowColumns]);
    expect(rows).toHaveLength(34);
    const column = (name: string) => flowColumns.indexOf(name);
    const odd = rows.find((row) => row[column('host')] === 'odd,name"quoted.example');
    expect(odd?.[column('verdict')]).toBe('unknown');
    const first = rows[1] as string[];
    expect(first[column('originKind')]).toBe('squid');
    expect(first[column('originLine')]).toBe('2');
    expect(first[column('start')]).toBe(String(at(0)));
    expect(first[column('reason')]).toBe(flows[0]?.reason);
  });
});

describe('--junit', () => {
  const xml = () => renderJunitReport(report, { failOn: ['unknown'] });

  test('is well-formed XML', () => {
    expect(checkWellFormedXml(xml())).toEqual([]);
  });

  test('one test case per rule and destination, failing on leaks and on --fail-on verdicts', () => {
    const text = xml();
    expect(text).toMatch(/<testsuite name="pathwarden.rules" tests="\d+" failures="2"/);
    expect(text).toContain('<testcase classname="pathwarden.rules" name="service.backend-api: ');
    expect(text).toContain('<failure type="leak" message="10 leak flows">');
    expect(text).toContain('<testcase classname="pathwarden.rules" name="(no matching rule)" time="0">');
    expect(text).toContain('<testcase classname="pathwarden.destinations" name="api.powerbi.com" time="0">');
    expect(text).toContain('name="odd,name&quot;quoted.example"');
    // Exceptions pass unless --fail-on exception.
    expect(text).toContain(
      '<testcase classname="pathwarden.destinations" name="content.powerapps.com" time="0"/>',
    );
    expect(renderJunitReport(report, { failOn: ['exception'] })).toContain(
      '<failure type="exception" message="1 exception flow">',
    );
    expect(text).toContain(
      `${join(dir, 'access.log')}:2: api.powerbi.com (13.73.248.5) crossed the Internet (proxy 10.9.0.2)`,
    );
  });

  test('the checker itself rejects broken XML', () => {
    expect(checkWellFormedXml('<a><b></a>')).not.toEqual([]);
    expect(checkWellFormedXml('<a x="1" x="2"/>')).not.toEqual([]);
    expect(checkWellFormedXml('<a>&bogus;</a>')).not.toEqual([]);
    expect(checkWellFormedXml('<a>1 < 2</a>')).not.toEqual([]);
  });
});

describe('terminal summary', () => {
  test('shows verdict counts, bytes per path, exceptions and every leak with file:line, capped', () => {
    const text = renderTerminalReport(report, { leaks: 3 });
    expect(text).toMatch(/^ {2}leak +10 +30\.3%/m);
    expect(text).toMatch(/^ {2}expressroute +20 /m);
    expect(text).toContain('Top exceptions');
    expect(text).toContain('content.powerapps.com');
    expect(text).toContain('Leaks (10)');
    expect(text).toContain(
      `${join(dir, 'access.log')}:2  api.powerbi.com -> 13.73.248.5:443  internet (proxy 10.9.0.2)`,
    );
    expect(text).toContain('... and 7 more (the reports list the first 8)');
    expect(text).toContain(`${join(dir, 'access.log')}:35: a <broken> & "quoted" line`);
    expect(text).not.toContain('distinct destinations');
  });

  // Past the destination limit the JSON and HTML reports said so (destinations.complete); the
  // terminal summary listed exceptions and unknown destinations as if none were left out.
  test('says when more destinations were seen than the report tracks', () => {
    const limited: AuditReport = { ...report, destinations: { ...report.destinations, complete: false } };
    const text = renderTerminalReport(limited, { leaks: 3 });
    expect(text).toContain(
      `Destinations: more than ${report.destinations.distinct} distinct destinations; flows to those after the first ${report.destinations.distinct} are in every total above, not in the destination lists below`,
    );
  });
});

describe('--html', () => {
  test('is one self-contained page: no external references, charts inline, data embedded', () => {
    const html = renderHtmlReport(report);
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect(html).not.toMatch(/@import|url\(/);
    expect(html).toContain("default-src 'none'");
    expect(html.match(/<svg /g)).toHaveLength(3);
    expect(html).toContain('<th scope="col">');
    expect(html).toContain('&lt;broken&gt; &amp; &quot;quoted&quot;');
    const data = /<script type="application\/json" id="audit-data">(.*?)<\/script>/s.exec(html)?.[1];
    expect(JSON.parse(data as string)).toEqual(JSON.parse(JSON.stringify(report)));
    expect(html).toContain('... and 2 more leaks');
  });
});
