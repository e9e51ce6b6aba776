// The audit report: one plain object built from the aggregate once the inputs are read. `--json`
// writes it as is; the terminal summary, the JUnit file and the HTML report are views of it, so all
// of them show the same numbers. Its schema is documented field by field in docs/audit.md.
import type { Component } from '../catalog/model.js';
import type { FormatName } from '../ingest/format.js';
import type { ExpectedPath } from '../policy/policy.js';
import type { Topology } from '../policy/topology.js';
import { type Verdict, verdicts } from '../policy/verdict.js';
import { formatTime } from '../report/format.js';
import {
  type AuditAggregate,
  type DestinationTotals,
  type LeakEvidence,
  type RuleTally,
  Tally,
} from './aggregate.js';
import type { InputRole } from './input-plan.js';
import type { AuditProblem, InputFailure, ProblemLog } from './problems.js';
import { type SeriesPath, seriesPaths } from './time-series.js';

export const auditReportSchema = 'pathwarden.audit/v1';

export interface TallyJson {
  flows: number;
  bytesUp: number;
  bytesDown: number;
  /** ISO 8601 UTC; null when no flow of the set carried a time. */
  firstSeen: string | null;
  lastSeen: string | null;
  /** Flow counts per verdict, all six keys present. */
  verdicts: Record<Verdict, number>;
}

export interface InputReport {
  file: string;
  format: FormatName | null;
  /** Zeek log type (`conn`, `ssl`, `http`, `dns`, ...) for Zeek inputs, else null. */
  log: string | null;
  role: InputRole | null;
  compressed: boolean;
  /** Bytes on disk (compressed size for .gz); null for stdin. */
  size: number | null;
  /** `read`; `empty` (no bytes); `skipped` (found in a directory, format not recognised); `failed`. */
  status: 'read' | 'empty' | 'skipped' | 'failed';
  /** Records the parser produced (Zeek ssl/http records joined to conn count here, not as flows). */
  records: number;
  /** Flows this input contributed to the audit. */
  flows: number;
  problems: number;
  message?: string;
}

export interface DestinationJson extends TallyJson {
  destination: string;
}

/** A destination's traffic of one verdict (top exceptions, unknown destinations). */
export interface DestinationFinding {
  destination: string;
  rule: string | null;
  activity: string | null;
  flows: number;
  bytesUp: number;
  bytesDown: number;
  firstSeen: string | null;
  lastSeen: string | null;
}

export interface LeakJson {
  /** `file:line` of the record, as the input numbers its records (line, entry or packet). */
  evidence: string;
  file: string | null;
  line: number | null;
  time: string | null;
  client: string | null;
  host: string;
  destination: string | null;
  port: number | null;
  upstream: string | null;
  sourceAddress: string | null;
  actualPathEvidence: string | null;
  rule: string | null;
  activity: string | null;
  component: Component;
  bytesUp: number | null;
  bytesDown: number | null;
}

export interface SeriesBucketJson {
  start: string;
  flows: number;
  bytesByPath: Record<SeriesPath, number>;
  bytesByVerdict: Record<Verdict, number>;
}

export interface AuditReport {
  schema: typeof auditReportSchema;
  generatedAt: string;
  /** `profile`: the catalog profile that gave the expected paths (docs/model.md, "Profiles"). */
  catalog: { name: string; version: string; profile: string };
  topology: { file: string | null; default: Topology['default'] };
  defaultComponent: Component;
  inputs: InputReport[];
  flows: number;
  verdicts: Record<Verdict, number>;
  bytes: {
    up: number;
    down: number;
    total: number;
    byPath: Record<SeriesPath, { up: number; down: number }>;
    byVerdict: Record<Verdict, { up: number; down: number }>;
  };
  timeRange: { first: string | null; last: string | null };
  paths: Record<SeriesPath, TallyJson>;
  components: Partial<Record<Component, TallyJson>>;
  activities: (TallyJson & { activity: string | null; rules: string[] })[];
  rules: (TallyJson & { rule: string | null; activity: string | null; expectedPath: ExpectedPath })[];
  destinations: {
    /** Distinct destinations tracked (at most the limit). */
    distinct: number;
    /** False when the limit was reached and later destinations were counted in `other` only. */
    complete: boolean;
    top: DestinationJson[];
    /** Everything outside `top`: tracked destinations ranked lower, plus untracked flows. */
    other: TallyJson & { destinations: number };
  };
  timeSeries: { bucketSeconds: number; undatedFlows: number; buckets: SeriesBucketJson[] };
  findings: {
    leaks: { total: number; omitted: number; items: LeakJson[] };
    exceptions: DestinationFinding[];
    unknown: DestinationFinding[];
  };
  dns: { answers: number };
  zeek: { joined: number; unmatched: number; overflow: number };
  errors: {
    total: number;
    omitted: number;
    byFile: Record<string, number>;
    problems: AuditProblem[];
    inputs: InputFailure[];
  };
}

export interface ReportContext {
  generatedAt: Date;
  /** `profile`: the catalog profile that gave the expected paths (docs/model.md, "Profiles"). */
  catalog: { name: string; version: string; profile: string };
  topology: { file: string | null; default: Topology['default'] };
  inputs: InputReport[];
  dnsAnswers: number;
  zeek: { joined: number; unmatched: number; overflow: number };
  problems: ProblemLog;
  /** How many destinations / findings to list (default 20). */
  top?: number;
}

export function buildAuditReport(aggregate: AuditAggregate, context: ReportContext): AuditReport {
  const top = context.top ?? 20;
  const totals = aggregate.totals();
  const ruleActivity = new Map<string, string | null>();
  for (const rule of totals.byRule.values()) {
    if (rule.ruleId !== null) ruleActivity.set(rule.ruleId, rule.activity);
  }
  const bytesByPath = {} as AuditReport['bytes']['byPath'];
  const paths = {} as AuditReport['paths'];
  seriesPaths.forEach((path, i) => {
    const tally = totals.byPath[i] as Tally;
    bytesByPath[path] = { up: tally.bytesUp, down: tally.bytesDown };
    paths[path] = tallyJson(tally);
  });
  const counts = {} as Record<Verdict, number>;
  const bytesByVerdict = {} as AuditReport['bytes']['byVerdict'];
  verdicts.forEach((verdict, i) => {
    const tally = totals.byVerdict[i] as Tally;
    counts[verdict] = tally.flows;
    bytesByVerdict[verdict] = { up: tally.bytesUp, down: tally.bytesDown };
  });
  const up = totals.byVerdict.reduce((sum, tally) => sum + tally.bytesUp, 0);
  const down = totals.byVerdict.reduce((sum, tally) => sum + tally.bytesDown, 0);

  const components: AuditReport['components'] = {};
  for (const [component, tally] of [...totals.byComponent].sort(byKey)) {
    components[component] = tallyJson(tally);
  }

  const rules = [...totals.byRule.values()]
    .sort((a, b) => b.flows - a.flows || compareText(a.ruleId ?? '', b.ruleId ?? ''))
    .map((rule) => ({
      rule: rule.ruleId,
      activity: rule.activity,
      expectedPath: rule.expectedPath,
      ...tallyJson(rule),
    }));

  const activities = activityRows(totals.byRule);
  const destinations = destinationRows(aggregate, top);

  const series = aggregate.series.result();
  const { problems } = context;
  return {
    schema: auditReportSchema,
    generatedAt: context.generatedAt.toISOString(),
    catalog: context.catalog,
    topology: context.topology,
    defaultComponent: aggregate.defaultComponent,
    inputs: context.inputs,
    flows: aggregate.flows,
    verdicts: counts,
    bytes: { up, down, total: up + down, byPath: bytesByPath, byVerdict: bytesByVerdict },
    timeRange: { first: isoOrNull(aggregate.first), last: isoOrNull(aggregate.last) },
    paths,
    components,
    activities,
    rules,
    destinations,
    timeSeries: {
      bucketSeconds: series.bucketMs / 1000,
      undatedFlows: aggregate.undated,
      buckets: series.buckets.map((bucket) => ({ ...bucket, start: formatTime(bucket.start) })),
    },
    findings: {
      leaks: {
        total: aggregate.leakTotal,
        omitted: aggregate.leakTotal - aggregate.leaks.length,
        items: aggregate.leaks.map(leakJson),
      },
      exceptions: findingsFor(aggregate, 'exception', top, ruleActivity),
      unknown: findingsFor(aggregate, 'unknown', top, ruleActivity),
    },
    dns: { answers: context.dnsAnswers },
    zeek: context.zeek,
    errors: {
      total: problems.total,
      omitted: problems.omitted,
      byFile: Object.fromEntries(problems.byFile),
      problems: problems.listed,
      inputs: problems.inputs,
    },
  };
}

function tallyJson(tally: Tally): TallyJson {
  const counts = {} as Record<Verdict, number>;
  verdicts.forEach((verdict, i) => {
    counts[verdict] = tally.verdicts[i] as number;
  });
  return {
    flows: tally.flows,
    bytesUp: tally.bytesUp,
    bytesDown: tally.bytesDown,
    firstSeen: isoOrNull(tally.first),
    lastSeen: isoOrNull(tally.last),
    verdicts: counts,
  };
}

function activityRows(byRule: ReadonlyMap<string, RuleTally>): AuditReport['activities'] {
  const groups = new Map<string, { activity: string | null; rules: string[]; tallies: Tally[] }>();
  for (const rule of byRule.values()) {
    const key = rule.activity ?? '';
    let group = groups.get(key);
    if (!group) {
      group = { activity: rule.activity, rules: [], tallies: [] };
      groups.set(key, group);
    }
    if (rule.ruleId !== null) group.rules.push(rule.ruleId);
    group.tallies.push(rule);
  }
  return [...groups.values()]
    .map((group) => ({
      activity: group.activity,
      rules: group.rules.sort(compareText),
      ...sumTallies(group.tallies),
    }))
    .sort((a, b) => b.flows - a.flows || compareText(a.activity ?? '', b.activity ?? ''));
}

function destinationRows(aggregate: AuditAggregate, top: number): AuditReport['destinations'] {
  // By destination number, from the aggregate's block: no object per destination.
  const totals = aggregate.destinationTotals();
  const { flows, bytesUp, bytesDown } = totals;
  const ranked = aggregate
    .destinationOrder()
    .sort(
      (a, b) =>
        (bytesUp[b] as number) +
          (bytesDown[b] as number) -
          ((bytesUp[a] as number) + (bytesDown[a] as number)) ||
        (flows[b] as number) - (flows[a] as number) ||
        compareText(aggregate.destinationName(a), aggregate.destinationName(b)),
    );
  const rest = ranked.slice(top);
  // Summed in place, in addTally()'s order (so the same doubles): a Tally per destination made
  // 100,000 objects of garbage at the report's end, when memory peaks (docs/performance.md,
  // "Audit memory with many destinations", session 10).
  const other = new Tally();
  for (const index of rest) {
    other.flows += totals.flows[index] as number;
    other.bytesUp += totals.bytesUp[index] as number;
    other.bytesDown += totals.bytesDown[index] as number;
    other.first = Math.min(other.first, totals.first[index] as number);
    other.last = Math.max(other.last, totals.last[index] as number);
    for (let v = 0; v < verdicts.length; v++)
      (other.verdicts[v] as number) += aggregate.destinationFlows(index, v);
  }
  addTally(other, aggregate.untracked);
  return {
    distinct: aggregate.destinationCount,
    complete: aggregate.untracked.flows === 0,
    top: ranked.slice(0, top).map((index) => ({
      destination: aggregate.destinationName(index),
      ...tallyJson(destinationTally(aggregate, totals, index)),
    })),
    other: { destinations: rest.length, ...tallyJson(other) },
  };
}

/** Destination `index`'s totals as a Tally (flows per verdict included). */
function destinationTally(aggregate: AuditAggregate, totals: DestinationTotals, index: number): Tally {
  const tally = new Tally();
  tally.flows = totals.flows[index] as number;
  tally.bytesUp = totals.bytesUp[index] as number;
  tally.bytesDown = totals.bytesDown[index] as number;
  tally.first = totals.first[index] as number;
  tally.last = totals.last[index] as number;
  for (let v = 0; v < verdicts.length; v++) tally.verdicts[v] = aggregate.destinationFlows(index, v);
  return tally;
}

function findingsFor(
  aggregate: AuditAggregate,
  verdict: Verdict,
  top: number,
  ruleActivity: ReadonlyMap<string, string | null>,
): DestinationFinding[] {
  const v = verdicts.indexOf(verdict);
  const rows: number[] = [];
  for (const index of aggregate.destinationOrder())
    if (aggregate.destinationFlows(index, v) > 0) rows.push(index);
  const bytes = (index: number) =>
    aggregate.destinationBytesUp(index, v) + aggregate.destinationBytesDown(index, v);
  rows.sort(
    (a, b) =>
      bytes(b) - bytes(a) ||
      aggregate.destinationFlows(b, v) - aggregate.destinationFlows(a, v) ||
      compareText(aggregate.destinationName(a), aggregate.destinationName(b)),
  );
  return rows.slice(0, top).map((index) => {
    const rule = aggregate.destinationRule(index, v) ?? null;
    return {
      destination: aggregate.destinationName(index),
      rule,
      activity: rule === null ? null : (ruleActivity.get(rule) ?? null),
      flows: aggregate.destinationFlows(index, v),
      bytesUp: aggregate.destinationBytesUp(index, v),
      bytesDown: aggregate.destinationBytesDown(index, v),
      firstSeen: isoOrNull(aggregate.destinationFirst(index, v)),
      lastSeen: isoOrNull(aggregate.destinationLast(index, v)),
    };
  });
}

function sumTallies(tallies: readonly Tally[]): TallyJson {
  const sum = new Tally();
  for (const tally of tallies) addTally(sum, tally);
  return tallyJson(sum);
}

/** Adds `tally` to `sum` (flows, bytes, time span and flows per verdict). */
function addTally(sum: Tally, tally: Tally): void {
  sum.flows += tally.flows;
  sum.bytesUp += tally.bytesUp;
  sum.bytesDown += tally.bytesDown;
  sum.first = Math.min(sum.first, tally.first);
  sum.last = Math.max(sum.last, tally.last);
  const counts = tally.verdicts;
  for (let i = 0; i < counts.length; i++) (sum.verdicts[i] as number) += counts[i] as number;
}

function leakJson(leak: LeakEvidence): LeakJson {
  return {
    evidence: `${leak.file ?? '(no file)'}${leak.line === null ? '' : `:${leak.line}`}`,
    file: leak.file,
    line: leak.line,
    time: leak.start === null ? null : formatTime(leak.start),
    client: leak.client,
    host: leak.host,
    destination: leak.destination,
    port: leak.port,
    upstream: leak.upstream,
    sourceAddress: leak.sourceAddress,
    actualPathEvidence: leak.actualPathEvidence,
    rule: leak.ruleId,
    activity: leak.activity,
    component: leak.component,
    bytesUp: leak.bytesUp,
    bytesDown: leak.bytesDown,
  };
}

function isoOrNull(epochMs: number): string | null {
  return Number.isFinite(epochMs) ? formatTime(epochMs) : null;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function byKey<T>(a: [string, T], b: [string, T]): number {
  return compareText(a[0], b[0]);
}
