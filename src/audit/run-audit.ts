// runAudit(): ingest -> classifyFlow() -> aggregate -> report. Reads every input once (Zeek ssl/http
// logs twice when they are joined to conn logs), one record at a time, and hands each classified
// flow to the per-flow sinks (--ndjson, --csv) as it goes; the returned AuditReport feeds the
// summary outputs (terminal, --json, --junit, --html).
//
// Order of reading (see input-plan.ts):
//   1. DNS logs (dnsmasq, BIND, Zeek dns.log), so that their answers name the addresses of every
//      later flow (classifyFlow's nameOf); Zeek ssl/http logs, when the audit has conn logs, whose
//      names are stored by uid (zeek-join.ts) instead of becoming flows;
//   2. everything else in the order given, Zeek conn records taking the names of their uid;
//   3. the Zeek ssl/http logs again, for the records whose uid met no conn record.
import type { Readable } from 'node:stream';
import type { Component } from '../catalog/model.js';
import { PathwardenError, type Problem } from '../errors.js';
import { ClassifyCache, classifyFlow } from '../flow/classify.js';
import type { FlowRecord } from '../flow/record.js';
import { flowBatches, type InputSeen } from '../ingest/batches.js';
import { DnsAnswers } from '../ingest/dns-answers.js';
import { FileChunks } from '../ingest/file-chunks.js';
import type { FormatName, FormatOptions, IngestContext } from '../ingest/format.js';
import { emptyTopology, PathResolver, type Topology } from '../policy/path-resolver.js';
import type { Policy } from '../policy/policy.js';
import { type AggregateLimits, AuditAggregate } from './aggregate.js';
import { type AuditReport, buildAuditReport, type InputReport } from './audit-report.js';
import { AuditCounter } from './flow-counter.js';
import type { FlowSink } from './flow-sink.js';
import {
  closeFile,
  type FormatSource,
  type OpenedFile,
  openFile,
  type PlannedInput,
  planInput,
  readsDirectly,
  registryFormats,
} from './input-plan.js';
import { describeFsError, expandInputs } from './inputs.js';
import type { JobWorkers, LateSplit, RangePart, ThreadSeams } from './jobs.js';
import type { JobsFallback } from './jobs-fallback.js';
import { type AuditProblem, ProblemLog } from './problems.js';
import { HeaderWatchingChunks, type RangeHeaders } from './range-headers.js';
import { scanModule } from './wasm-scan.js';
import { ZeekNameJoin } from './zeek-join.js';

export interface AuditLimits extends AggregateLimits {
  /** Problems kept with their text (default 1,000; all are counted). */
  problems?: number;
  /** Zeek uids waiting for their conn record (default 2,000,000). */
  zeekJoin?: number;
  /** Destinations and findings listed in the report (default 20). */
  top?: number;
}

/** What the progress bar reads while the audit runs (polled, never pushed per flow). */
export interface ProgressState {
  /** 1-based index of the input being read, and how many reads the audit will do. */
  step: number;
  steps: number;
  file: string;
  /** Size of the current input on disk; null for stdin. */
  total: number | null;
  /** Bytes of the current input read so far (compressed bytes for .gz). */
  bytesRead: () => number;
  /** Flows classified so far in the whole audit. */
  flows: () => number;
}

export interface AuditProgress {
  update(state: ProgressState): void;
  stop(): void;
}

export interface AuditOptions {
  /** Files, directories (walked recursively, sorted) and `-` for stdin. */
  inputs: readonly string[];
  policy: Policy;
  topology?: Topology;
  /** Shown in the report; null when the built-in empty topology is used. */
  topologyFile?: string | null;
  /** Component of flows whose record does not say (default `saas`). */
  component?: Component;
  /** Read every input as this format instead of detecting it. */
  format?: FormatName;
  /** Settings of formats that their content cannot tell (`--vpc-fields`, `--squid-logformat`). */
  formatOptions?: FormatOptions;
  formats?: FormatSource;
  /** Make the first bad record fatal (PW_ERR_INPUT_RECORD, exit code 2). */
  strict?: boolean;
  stdin?: Readable;
  sinks?: readonly FlowSink[];
  progress?: AuditProgress;
  /** Name shown for an input path in reports and evidence (default: the path as given). */
  rename?: (path: string) => string;
  limits?: AuditLimits;
  now?: () => Date;
  /**
   * Count the flows of Squid native and Zeek conn logs from their key fields, without a record each,
   * when nothing keeps records (no sinks, no Zeek join): flow-counter.ts. Default true; false
   * builds and classifies every record (the reference the fast path is tested against).
   */
  fastCount?: boolean;
  /**
   * Keys (and names, and upstreams) the fast path remembers per input before it starts over
   * (default 131,072). Tests set a few, so that its tables fill and its sums are added mid-input.
   */
  fastCountKeys?: number;
  /**
   * Count the lines of Squid native logs and Zeek conn logs (TSV) with the WebAssembly scanner
   * (wasm-scan.ts) when the fast path counts. Default true (unless PATHWARDEN_WASM=0); false counts them in JavaScript only,
   * with the same results (the reference the scanner is tested against).
   */
  wasmScan?: boolean;
  /**
   * Worker threads (`audit --jobs N`, default 1): inputs, and byte ranges of large line-based
   * inputs, are read in parallel and their counts merged into the report one job would give
   * (jobs.ts says when an audit stays on one thread).
   */
  jobs?: number;
  /**
   * Worker threads started before the catalog was read (jobs.ts, startJobWorkers), used by a
   * multi-job audit before it starts any; the audit ends those it does not use.
   */
  workers?: JobWorkers;
  /**
   * Told, once, why an audit with `jobs` above 1 read on one thread (jobs-fallback.ts): it stayed
   * there from the start, or its threads failed and it read every input again (`rerun`). The CLI
   * prints it as a warning; awaited before the one-job read starts.
   */
  onJobsFallback?: (fallback: JobsFallback) => void | Promise<void>;
  /** @internal Inputs at least this large are cut into ranges by jobs.ts (default 8 MiB; tests). */
  splitBytes?: number;
  /** @internal Input bytes per thread before jobs.ts starts another (default THREAD_BYTES; tests). */
  threadBytes?: number;
  /** @internal Each worker of jobs.ts exits (code 3) when given its first item, returning nothing (the audit reruns on one thread; tests). */
  workerExit?: boolean;
  /** @internal Each worker of jobs.ts answers its items with an error (the audit reruns on one thread; tests). */
  workerFail?: boolean;
  /** @internal One byte range of the (single) input, for a worker of jobs.ts. */
  part?: RangePart;
  /** @internal Test seams of jobs.ts's late split of one input (jobs.ts, LateSplit). */
  lateSplit?: LateSplit;
  /** @internal Test seams of this thread's reads when jobs.ts cuts ranges up front (runWorkers). */
  rangeSplit?: ThreadSeams;
  /** @internal Given the reader of `part` before it is read (jobs.ts lowers its end meanwhile). */
  partChunks?: (chunks: FileChunks) => void;
}

type ReadMode =
  /** Every record becomes a flow. */
  | 'emit'
  /** ssl/http records are stored for the conn join; other records become flows. */
  | 'names'
  /** Second read of an ssl/http log: only records whose uid met no conn record become flows. */
  | 'unmatched';

/** Audits the inputs: with `jobs` above 1 on worker threads where it can (jobs.ts), else here. */
export async function runAudit(options: AuditOptions): Promise<AuditReport> {
  if ((options.jobs ?? 1) > 1) {
    const { runJobs } = await import('./jobs.js');
    const report = await runJobs(options);
    if (report !== undefined) return report;
  }
  return reportOf(await readAll(options), options);
}

/** What reading an audit's inputs leaves: the counts and everything the report says besides. */
export interface AuditState {
  aggregate: AuditAggregate;
  problems: ProblemLog;
  planned: PlannedEntry[];
  dns: DnsAnswers;
  join: ZeekNameJoin;
  topology: Topology;
  /** Per problem reported once per input (OnceReporter), its key (for parts, see AuditOptions.part). */
  onceKeys: Map<AuditProblem, string>;
  /** Part reads: what flowBatches saw and how many newlines were read (prelude included). */
  seen?: InputSeen;
  lines: number;
  /** Part reads asked for them (RangePart.headers): the header lines of the range. */
  headers?: RangeHeaders | null;
}

export function reportOf(state: AuditState, options: AuditOptions): AuditReport {
  const { aggregate, topology, planned, dns, join, problems } = state;
  return buildAuditReport(aggregate, {
    generatedAt: (options.now ?? (() => new Date()))(),
    catalog: {
      name: options.policy.catalog.name,
      version: options.policy.catalog.version,
      profile: options.policy.profile,
    },
    topology: { file: options.topologyFile ?? null, default: topology.default },
    inputs: planned.map(({ report }) => report),
    dnsAnswers: dns.answers,
    zeek: { joined: join.joined, unmatched: join.waiting, overflow: join.overflow },
    problems,
    top: options.limits?.top,
  });
}

/** Reads every input in order on this thread (one job). */
export async function readAll(options: AuditOptions): Promise<AuditState> {
  const formats = options.formats ?? registryFormats;
  const forced = options.format === undefined ? undefined : formats.get(options.format);
  if (options.format !== undefined && forced === undefined) {
    throw new PathwardenError('PW_ERR_USAGE', `format "${options.format}" is not available in this build`);
  }
  const limits = options.limits ?? {};
  const problems = new ProblemLog(limits.problems);
  const planned = await planInputs(options, forced, formats, problems);

  const topology = options.topology ?? emptyTopology;
  const resolver = new PathResolver(topology);
  const dns = new DnsAnswers();
  const aggregate = new AuditAggregate(options.component ?? 'saas', limits);
  const classifyOptions = {
    component: options.component ?? 'saas',
    // No DNS answers (most single-log audits): no lookup per address-only flow.
    nameOf: (address: string) => (dns.empty ? undefined : dns.nameOf(address)),
    privateLinkOf: (address: string) => (dns.empty ? undefined : dns.privateLinkOf(address)),
    // Hosts, proxies and responders repeat: most flows are decided by one lookup of their text.
    cache: new ClassifyCache(),
  };
  const sinks = options.sinks ?? [];
  const joining = planned.some(({ input }) => input.role === 'zeek-conn');
  if (!joining) {
    // Nothing to join to: ssl/http logs are read as flows like any other input.
    for (const entry of planned)
      if (entry.input.role === 'zeek-names') entry.input.role = entry.report.role = 'flows';
  }
  const join = new ZeekNameJoin(limits.zeekJoin);
  let strictProblem: AuditProblem | undefined;
  const onceKeys = new Map<AuditProblem, string>();
  let onceKey: string | undefined;
  let seen: InputSeen | undefined;
  let lines = 0;
  let headers: RangeHeaders | null | undefined;
  const part = options.part;

  const readable = planned.filter(({ input }) => input.format !== null);
  const names = joining ? readable.filter(({ input }) => input.role === 'zeek-names') : [];
  const steps: { entry: PlannedEntry; mode: ReadMode }[] = [
    ...readable
      .filter(({ input }) => input.role === 'dns')
      .map((entry) => ({ entry, mode: 'emit' as const })),
    ...names.map((entry) => ({
      entry,
      mode: entry.input.path === '-' ? ('emit' as const) : ('names' as const),
    })),
    ...readable
      .filter(({ input }) => input.role !== 'dns' && !(joining && input.role === 'zeek-names'))
      .map((entry) => ({ entry, mode: 'emit' as const })),
    ...names
      .filter(({ input }) => input.path !== '-')
      .map((entry) => ({ entry, mode: 'unmatched' as const })),
  ];

  // Classifies and counts one flow; returns a promise only when a sink applies back-pressure, so
  // the common case costs no await.
  const emit = (flow: FlowRecord, report: InputReport): Promise<void> | undefined => {
    const decision = classifyFlow(flow, options.policy, resolver, classifyOptions);
    aggregate.add(flow, decision);
    report.flows++;
    let waiting: Promise<void>[] | undefined;
    for (const sink of sinks) {
      const pending = sink.write(flow);
      if (pending) {
        waiting ??= [];
        waiting.push(pending);
      }
    }
    return waiting && Promise.all(waiting).then(() => undefined);
  };

  const readOne = async (entry: PlannedEntry, mode: ReadMode, step: number): Promise<void> => {
    const { input, report } = entry;
    const format = input.format;
    if (format === null || report.status === 'failed') return;
    if (mode === 'unmatched' && join.waiting === 0) return;
    let handle: OpenedFile | undefined;
    let chunks: FileChunks | undefined;
    if (part !== undefined) {
      chunks =
        part.headers && format.headerLine
          ? // The ranges after this one depend on its header lines (jobs.ts).
            new HeaderWatchingChunks(
              input.path,
              part.start,
              part.end,
              part.prelude,
              format.headerLine,
              (seen) => {
                headers = seen;
              },
            )
          : new FileChunks(input.path, part.start, part.end, part.prelude);
      options.partChunks?.(chunks);
    } else if (readsDirectly(input)) {
      chunks = new FileChunks(input.path);
    } else {
      try {
        handle = input.pending ?? (await openFile(input.path, options.stdin));
      } catch (cause) {
        fail(entry, describeFsError(cause), problems);
        return;
      }
    }
    input.pending = undefined;
    const raw = handle?.raw;
    options.progress?.update({
      step,
      steps: steps.length,
      file: input.name,
      total: input.size,
      bytesRead: () => chunks?.bytesRead ?? raw?.bytesRead ?? 0,
      flows: () => aggregate.flows,
    });
    const counter =
      // Joining names to conn records (while ssl/http names wait) needs each record.
      mode === 'emit' && sinks.length === 0 && join.waiting === 0 && options.fastCount !== false
        ? new AuditCounter({
            aggregate,
            policy: options.policy,
            resolver,
            classify: classifyOptions,
            dns,
            keyLimit: options.fastCountKeys,
            scanModule:
              ((format.name === 'squid' && options.formatOptions?.squidLogformat === undefined) ||
                format.name === 'zeek') &&
              options.wasmScan !== false
                ? scanModule()
                : null,
          })
        : undefined;
    const ctx: IngestContext = {
      counter,
      once: (key) => {
        onceKey = key;
      },
      linesRead: (count) => {
        lines = count;
      },
      file: input.name,
      dns,
      options: options.formatOptions,
      problem:
        mode === 'unmatched'
          ? () => {}
          : (line, message, field) => {
              const problem = problems.add(input.name, line, field ? `${field}: ${message}` : message);
              if (onceKey !== undefined) {
                onceKeys.set(problem, onceKey);
                onceKey = undefined;
              }
              report.problems++;
              if (options.strict) {
                strictProblem ??= problem;
                // Unwinds the parser at once, even when no flow follows the bad record.
                throw strictStop;
              }
            },
    };
    try {
      // Batches (about one per read chunk) rather than one await per flow: see IngestFormat.
      const source = chunks ?? (handle as OpenedFile).opened.stream;
      const watch =
        part === undefined
          ? undefined
          : (what: InputSeen) => {
              seen = what;
            };
      batches: for await (const batch of flowBatches(format, source, ctx, undefined, watch)) {
        for (const flow of batch) {
          if (strictProblem) break batches;
          if (flow.origin.file === undefined) flow.origin.file = input.name;
          let pending: Promise<void> | undefined;
          if (mode === 'unmatched') {
            if (isZeekName(flow) && join.isUnmatched(flow)) pending = emit(flow, report);
          } else {
            report.records++;
            if (mode === 'names' && isZeekName(flow) && join.remember(flow)) continue;
            if (joining && flow.origin.kind === 'zeek-conn') join.apply(flow);
            pending = emit(flow, report);
          }
          if (pending) await pending;
        }
      }
    } catch (cause) {
      if (cause === strictStop) throw strictFailure(strictProblem as AuditProblem);
      fail(entry, describeFsError(cause), problems);
      if (options.strict) {
        throw new PathwardenError('PW_ERR_INPUT_READ', `${input.name}: ${describeFsError(cause)}`, { cause });
      }
    } finally {
      if (handle !== undefined) closeFile(handle);
      if (counter !== undefined) {
        counter.release();
        report.records += counter.taken;
        report.flows += counter.taken;
      }
    }
    if (strictProblem) throw strictFailure(strictProblem);
  };

  try {
    for (const [index, { entry, mode }] of steps.entries()) await readOne(entry, mode, index + 1);
    for (const sink of sinks) await sink.close();
  } finally {
    options.progress?.stop();
    for (const { input } of planned) if (input.pending) closeFile(input.pending);
  }

  return { aggregate, problems, planned, dns, join, topology, onceKeys, seen, lines, headers };
}

export interface PlannedEntry {
  input: PlannedInput;
  report: InputReport;
}

/**
 * Expands and opens every input before reading any, so that a missing file or an unrecognised
 * format is reported (all of them at once) before any output is written.
 */
export async function planInputs(
  options: AuditOptions,
  forced: PlannedInput['format'] | undefined,
  formats: FormatSource,
  problems: ProblemLog,
): Promise<PlannedEntry[]> {
  const expanded = expandInputs(options.inputs, options.rename);
  const fatal: Problem[] = expanded.errors.map((error) => ({
    message: error.message,
    location: { file: error.file },
  }));
  let unreadable = fatal.length > 0;
  const planned: PlannedEntry[] = [];
  for (const file of expanded.files) {
    const outcome = await planInput(file, forced ?? undefined, formats, options.stdin);
    if ('input' in outcome) {
      const { input } = outcome;
      planned.push({
        input,
        report: {
          file: input.name,
          format: input.format?.name ?? null,
          log: input.zeekLog,
          role: input.role,
          compressed: input.compressed,
          size: input.size,
          status: input.format === null ? 'empty' : 'read',
          records: 0,
          flows: 0,
          problems: 0,
        },
      });
    } else if (outcome.skip) {
      problems.addInput(file.name, `skipped: ${outcome.error}`);
      planned.push({
        input: { ...file, format: null, zeekLog: null, role: 'flows', compressed: false },
        report: {
          file: file.name,
          format: null,
          log: null,
          role: null,
          compressed: false,
          size: file.size,
          status: 'skipped',
          records: 0,
          flows: 0,
          problems: 0,
          message: outcome.error,
        },
      });
    } else {
      if (!outcome.error.startsWith('format not recognised')) unreadable = true;
      fatal.push({ message: outcome.error, location: { file: file.name } });
    }
  }
  if (fatal.length === 0 && planned.length === 0) {
    fatal.push({ message: 'no input files found' });
    unreadable = true;
  }
  if (fatal.length > 0) {
    for (const { input } of planned) if (input.pending) closeFile(input.pending);
    const count = fatal.length;
    throw new PathwardenError(
      unreadable ? 'PW_ERR_INPUT_READ' : 'PW_ERR_INPUT_FORMAT',
      `${count} input${count === 1 ? '' : 's'} cannot be audited`,
      { problems: fatal },
    );
  }
  return planned;
}

function fail(entry: PlannedEntry, message: string, problems: ProblemLog): void {
  entry.report.status = 'failed';
  entry.report.message = message;
  problems.addInput(entry.input.name, message);
}

/** Thrown through a parser by `ctx.problem` under --strict; caught in runAudit, never escapes. */
const strictStop = new Error('pathwarden: --strict stop');

function strictFailure(problem: AuditProblem): PathwardenError {
  return new PathwardenError(
    'PW_ERR_INPUT_RECORD',
    `${problem.file}:${problem.line}: ${problem.message} (--strict stops at the first bad record)`,
  );
}

function isZeekName(flow: FlowRecord): boolean {
  return flow.origin.kind === 'zeek-ssl' || flow.origin.kind === 'zeek-http';
}
