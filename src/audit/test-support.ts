// Fake ingest formats for the audit's own tests: tiny `key=value` line formats that exercise
// detection, DNS answers, Zeek joins, problems and failures without depending on the real parsers.
// Not used outside tests.
import type { Readable } from 'node:stream';
import { loadBuiltinCatalog } from '../catalog/load.js';
import type { Component } from '../catalog/model.js';
import { emptyFlow, type FlowOriginKind, type FlowRecord } from '../flow/record.js';
import type { FormatName, IngestContext, IngestFormat } from '../ingest/format.js';
import { Policy } from '../policy/policy.js';
import type { AuditAggregate } from './aggregate.js';
import { buildAuditReport } from './audit-report.js';
import type { FormatSource } from './input-plan.js';
import { ProblemLog } from './problems.js';

/**
 * A line format: the first line is `#fake <format>` (what `sniff` looks for); `#path\t<log>` lines
 * name a Zeek log type; every other line is `key=value` pairs:
 * t (epoch ms), host, sni, dst, port, up, down, client, src (source address), proxy (upstream),
 * uid, kind (origin kind), component, answer (DNS: this line's host resolved to `answer`).
 * A line `bad <message>` reports a problem; a line `throw` makes the parser throw (a read error).
 */
export function fakeFormat(
  name: FormatName,
  defaultKind: FlowOriginKind = name as FlowOriginKind,
): IngestFormat {
  return {
    name,
    description: `fake ${name} for tests`,
    sniff: (head) => (head.toString('utf8').startsWith(`#fake ${name}\n`) ? 0.9 : 0),
    async *parse(input: Readable, ctx: IngestContext) {
      let text = '';
      for await (const chunk of input) text += String(chunk);
      let kind = defaultKind;
      const lines = text.split('\n');
      for (const [index, line] of lines.entries()) {
        const lineNumber = index + 1;
        if (line.startsWith('#path\t')) {
          kind = `zeek-${line.slice(6)}` as FlowOriginKind;
          continue;
        }
        if (line === '' || line.startsWith('#')) continue;
        if (line.startsWith('bad')) {
          ctx.problem(lineNumber, line.slice(4) || 'bad line');
          continue;
        }
        if (line === 'throw') throw new Error('simulated read failure');
        yield parseLine(line, kind, ctx, lineNumber);
      }
    },
  };
}

function parseLine(line: string, kind: FlowOriginKind, ctx: IngestContext, lineNumber: number): FlowRecord {
  const fields = new Map(
    line.split(' ').map((pair) => {
      const eq = pair.indexOf('=');
      return [pair.slice(0, eq), pair.slice(eq + 1)] as const;
    }),
  );
  const flow = emptyFlow({
    kind: (fields.get('kind') as FlowOriginKind | undefined) ?? kind,
    file: ctx.file,
    line: lineNumber,
  });
  const text = (key: string) => fields.get(key) ?? null;
  const num = (key: string) => (fields.has(key) ? Number(fields.get(key)) : null);
  flow.start = num('t');
  flow.end = num('t');
  flow.host = text('host');
  flow.sni = text('sni');
  flow.httpHost = text('httpHost');
  flow.destination = text('dst');
  flow.port = num('port');
  flow.client = text('client');
  flow.sourceAddress = text('src');
  flow.upstream = text('proxy');
  flow.connectionId = text('uid');
  flow.component = (text('component') as Component | null) ?? null;
  flow.bytesUp = num('up');
  flow.bytesDown = num('down');
  const answer = text('answer');
  if (answer !== null && flow.host !== null) ctx.dns.add(flow.host, answer);
  return flow;
}

/** All fake formats, detected like the registry detects real ones. */
export function fakeFormats(): FormatSource & { all: IngestFormat[] } {
  const all = [
    fakeFormat('squid'),
    fakeFormat('zeek', 'zeek-conn'),
    fakeFormat('dns', 'dnsmasq'),
    fakeFormat('vpc'),
  ];
  return {
    all,
    detect: (head) => all.find((format) => format.sniff(head) > 0.5),
    get: (name) => all.find((format) => format.name === name),
  };
}

let policy: Policy | undefined;

/** The built-in Power BI catalog, compiled once for all tests. */
export function builtinPolicy(): Policy {
  policy ??= Policy.compile(loadBuiltinCatalog().catalog);
  return policy;
}

/** Epoch ms of 2026-11-23T08:00:00Z plus `minutes`. */
export function at(minutes: number): number {
  return Date.UTC(2026, 10, 23, 8, 0, 0) + minutes * 60_000;
}

/** The report of `aggregate` alone (no inputs, topology or problems), listing `top` destinations. */
export function aggregateReport(aggregate: AuditAggregate, top = 20) {
  return buildAuditReport(aggregate, {
    generatedAt: new Date(0),
    catalog: { name: 'powerbi', version: 'test', profile: 'current' },
    topology: { file: null, default: 'internet' },
    inputs: [],
    dnsAnswers: 0,
    zeek: { joined: 0, unmatched: 0, overflow: 0 },
    problems: new ProblemLog(),
    top,
  });
}
