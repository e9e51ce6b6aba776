// --junit FILE: the audit as JUnit XML for CI gates (GitLab, Jenkins, Azure Pipelines and GitHub
// test reporters all read it). Two suites: one test case per catalog rule seen in the audit and one
// per destination the report lists (top destinations, top exceptions, unknown destinations and
// every leaking destination among the listed leaks). A case fails when it has flows of a failing
// verdict: `leak` always, plus the verdicts named by --fail-on; the failure text lists the evidence.
import { type Verdict, verdicts } from '../policy/verdict.js';
import { escapeMarkup } from '../report/escape.js';
import { formatCount } from '../report/format.js';
import type { AuditReport, LeakJson } from './audit-report.js';

export interface JunitOptions {
  /** Verdicts that fail a test case besides `leak` (the --fail-on conditions). */
  failOn?: readonly Verdict[];
  /** Evidence lines per failure (default 50). */
  evidence?: number;
}

interface Case {
  name: string;
  counts: Partial<Record<Verdict, number>>;
  evidence: string[];
}

export function renderJunitReport(report: AuditReport, options: JunitOptions = {}): string {
  const failing = new Set<Verdict>(['leak', ...(options.failOn ?? [])]);
  const evidenceLimit = options.evidence ?? 50;
  const leaksByRule = group(report.findings.leaks.items, (leak) => leak.rule ?? '');
  const leaksByHost = group(report.findings.leaks.items, (leak) => leak.host);

  const ruleCases: Case[] = report.rules.map((rule) => ({
    name: rule.rule === null ? '(no matching rule)' : `${rule.rule}: ${rule.activity ?? ''}`.trim(),
    counts: rule.verdicts,
    evidence: (leaksByRule.get(rule.rule ?? '') ?? []).map(leakLine),
  }));

  const destinations = new Map<string, Case>();
  const destination = (name: string): Case => {
    let entry = destinations.get(name);
    if (!entry) {
      entry = { name, counts: {}, evidence: [] };
      destinations.set(name, entry);
    }
    return entry;
  };
  const raise = (entry: Case, verdict: Verdict, count: number) => {
    entry.counts[verdict] = Math.max(entry.counts[verdict] ?? 0, count);
  };
  for (const row of report.destinations.top) {
    for (const verdict of verdicts) raise(destination(row.destination), verdict, row.verdicts[verdict]);
  }
  for (const finding of report.findings.exceptions)
    raise(destination(finding.destination), 'exception', finding.flows);
  for (const finding of report.findings.unknown)
    raise(destination(finding.destination), 'unknown', finding.flows);
  for (const [host, leaks] of leaksByHost) {
    const entry = destination(host);
    raise(entry, 'leak', leaks.length);
    entry.evidence = leaks.map(leakLine);
  }
  const destinationCases = [...destinations.values()].sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  );

  const timestamp = report.generatedAt.replace(/\.\d+Z$/, '');
  // In each <testsuite>: the common JUnit schema allows <properties> there, not under <testsuites>.
  const properties = [
    '    <properties>',
    ...[
      ['catalog', `${report.catalog.name} ${report.catalog.version}`],
      ['profile', report.catalog.profile],
      ['topology', report.topology.file ?? '(none)'],
      ['flows', String(report.flows)],
      ...verdicts.map((verdict) => [`verdict.${verdict}`, String(report.verdicts[verdict])]),
    ].map(([name, value]) => `      <property name="${escapeMarkup(name)}" value="${escapeMarkup(value)}"/>`),
    '    </properties>',
  ];
  const suites = [
    suite('pathwarden.rules', ruleCases, failing, evidenceLimit, timestamp, properties),
    suite('pathwarden.destinations', destinationCases, failing, evidenceLimit, timestamp, properties),
  ];
  const tests = ruleCases.length + destinationCases.length;
  const failures = suites.reduce((sum, entry) => sum + entry.failures, 0);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="pathwarden audit" tests="${tests}" failures="${failures}" errors="0" time="0" timestamp="${escapeMarkup(timestamp)}">`,
    ...suites.map((entry) => entry.xml),
    '</testsuites>',
    '',
  ].join('\n');
}

function suite(
  name: string,
  cases: readonly Case[],
  failing: ReadonlySet<Verdict>,
  evidenceLimit: number,
  timestamp: string,
  properties: readonly string[],
): { xml: string; failures: number } {
  let failures = 0;
  const lines: string[] = [];
  for (const testCase of cases) {
    const failed = verdicts.filter((verdict) => failing.has(verdict) && (testCase.counts[verdict] ?? 0) > 0);
    const open = `    <testcase classname="${escapeMarkup(name)}" name="${escapeMarkup(testCase.name)}" time="0"`;
    if (failed.length === 0) {
      lines.push(`${open}/>`);
      continue;
    }
    failures++;
    const message = failed
      .map(
        (verdict) =>
          `${formatCount(testCase.counts[verdict] ?? 0)} ${verdict} flow${testCase.counts[verdict] === 1 ? '' : 's'}`,
      )
      .join(', ');
    const evidence = testCase.evidence.slice(0, evidenceLimit);
    if (testCase.evidence.length > evidence.length) {
      evidence.push(`... and ${testCase.evidence.length - evidence.length} more`);
    }
    lines.push(
      `${open}>`,
      `      <failure type="${escapeMarkup(failed.join(','))}" message="${escapeMarkup(message)}">${escapeMarkup(evidence.join('\n'))}</failure>`,
      '    </testcase>',
    );
  }
  const xml = [
    `  <testsuite name="${escapeMarkup(name)}" tests="${cases.length}" failures="${failures}" errors="0" skipped="0" time="0" timestamp="${escapeMarkup(timestamp)}">`,
    ...properties,
    ...lines,
    '  </testsuite>',
  ].join('\n');
  return { xml, failures };
}

function leakLine(leak: LeakJson): string {
  return `${leak.evidence}: ${leak.host}${leak.destination && leak.destination !== leak.host ? ` (${leak.destination})` : ''} crossed the Internet (${leak.actualPathEvidence ?? 'no evidence'}), rule ${leak.rule ?? '-'}`;
}

function group<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const name = key(item);
    const list = groups.get(name);
    if (list) list.push(item);
    else groups.set(name, [item]);
  }
  return groups;
}
