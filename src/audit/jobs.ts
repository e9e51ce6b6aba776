// `audit --jobs N`: the inputs of an audit, and byte ranges of its large line-based inputs, read on
// N worker threads (audit-worker.ts), their counts merged in input order into the state one job
// would have, so the report is the same. A range starts and ends at line boundaries and is read
// after the header lines in force where it starts (Zeek's #fields): those at the top of the file,
// unless the header lines the ranges before it noted say otherwise, in which case it is read again
// (range-headers.ts); its line numbers are shifted by the newlines of the ranges before it. Inputs that cannot be cut (pcap, HAR, JSON documents,
// compressed files) go whole to one worker.
//
// One job is used instead (runJobs returns undefined) when order matters across inputs or when the
// parts could not be merged exactly: DNS logs or Zeek ssl/http logs among the inputs (their answers
// and names change how later flows are classified), DNS answers inside another input, per-flow
// sinks (--ndjson, --csv, --store), --strict, stdin, formats not from the registry, a destination
// table that overflows, or no built worker script (dist/src/audit/audit-worker.js).
import { existsSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { Worker } from 'node:worker_threads';
import { packageRoot } from '../catalog/builtin.js';
import type { Component } from '../catalog/model.js';
import { PathwardenError } from '../errors.js';
import { isUnrecognised, unrecognisedMessage } from '../ingest/batches.js';
import { DnsAnswers } from '../ingest/dns-answers.js';
import type { FormatName, FormatOptions, IngestFormat } from '../ingest/format.js';
import { emptyTopology, type Topology } from '../policy/path-resolver.js';
import type { Policy } from '../policy/policy.js';
import { type AggregateSnapshot, AuditAggregate } from './aggregate.js';
import type { AuditReport, InputReport } from './audit-report.js';
import { readsDirectly, registryFormats } from './input-plan.js';
import { expandInputs } from './inputs.js';
import { type AuditProblem, type InputFailure, ProblemLog } from './problems.js';
import { headersAfter, type RangeHeaders } from './range-headers.js';
import {
  type AuditLimits,
  type AuditOptions,
  type AuditState,
  type PlannedEntry,
  planInputs,
  readAll,
  reportOf,
} from './run-audit.js';
import { scanModule } from './wasm-scan.js';
import { ZeekNameJoin } from './zeek-join.js';

/** Inputs smaller than this are read whole by one worker. */
const SPLIT_BYTES = 8 << 20;
/**
 * Bytes of input each thread must have before another one is started: a worker costs about
 * 0.1-0.2 CPU-s of module loading and 14 MiB before it reads a byte, then its own JIT warm-up and
 * garbage collection, about 0.8-1.0 CPU-s in all (docs/performance.md, "Audit"). On a quiet
 * 2-core machine two threads were still slower than one at 200 MB (0.85x Squid, 0.81x Zeek), so
 * a second thread starts only from 512 MiB of input.
 */
export const THREAD_BYTES = 256 << 20;
/**
 * Bytes the last range of a cut input (the one this thread reads when the workers have taken the
 * others: runWorkers feeds them first) has beyond an even share, taken evenly from the other
 * ranges; at most a quarter of a share. A worker starts its range later than this thread (its
 * module loading and its own compile of the policy) and warms up a fresh isolate: with even halves
 * of a 600 MB log its range cost 8-28 % more CPU than this thread's, which then waited for it; 16
 * MiB evened the Squid halves' CPU and left the Zeek worker's 6-10 % over (docs/performance.md,
 * "`--jobs` and warm-up, session 6").
 */
const MAIN_EXTRA_BYTES = 16 << 20;

/** What every worker is started with. */
export interface JobInit {
  catalog: unknown;
  topology: Topology;
  component?: Component;
  formatOptions?: FormatOptions;
  limits: AuditLimits;
  fastCount?: boolean;
  /** AuditOptions.wasmScan, and the WebAssembly scanner's module (compiled once, by this thread). */
  wasmScan?: boolean;
  scanModule?: WebAssembly.Module | null;
  /** AuditOptions.workerExit (tests). */
  exit?: boolean;
}

/** One input, or one byte range of it. */
export interface JobItem {
  index: number;
  path: string;
  name: string;
  format: FormatName;
  part?: RangePart;
}

/** A byte range of an input (AuditOptions.part). */
export interface RangePart {
  start: number;
  end: number;
  /** Header lines the range is read after (Zeek's, from the top of the file). */
  prelude: Buffer | null;
  /** Note the range's own header lines (PartResult.headers): ranges after it depend on them. */
  headers?: boolean;
}

/** A worker's counts of one item. */
export interface PartResult {
  item: number;
  aggregate: AggregateSnapshot;
  problems: (AuditProblem & { once: string | null })[];
  problemTotal: number;
  failures: InputFailure[];
  report: InputReport | null;
  dnsAnswers: number;
  seen: { sawContent: boolean; flows: number; problems: number } | null;
  lines: number;
  /** The header lines of the range, when asked for (RangePart.headers); null if too many. */
  headers?: RangeHeaders | null;
}

interface Planned extends JobItem {
  entry: number;
  /** The prelude's header lines (none for whole inputs and first ranges). */
  prelude: string[];
}

/** The report of a multi-job audit, or undefined when it has to run on one thread. */
export async function runJobs(options: AuditOptions): Promise<AuditReport | undefined> {
  const jobs = options.jobs ?? 1;
  const script = workerScript();
  try {
    return await runOnThreads(options, jobs, script);
  } finally {
    // Started workers this audit did not use (it stayed on one thread, or needed fewer).
    options.workers?.close();
  }
}

async function runOnThreads(
  options: AuditOptions,
  jobs: number,
  script: string | undefined,
): Promise<AuditReport | undefined> {
  if (
    jobs <= 1 ||
    script === undefined ||
    options.strict ||
    (options.sinks?.length ?? 0) > 0 ||
    options.formats !== undefined ||
    options.inputs.includes('-')
  )
    return undefined;
  const problemsLimit = options.limits?.problems ?? 1000;
  const forced = options.format === undefined ? undefined : registryFormats.get(options.format);
  if (options.format !== undefined && forced === undefined) return undefined;
  // Planning notes skipped inputs here, first, as one job does.
  const problems = new ProblemLog(options.limits?.problems);
  const planned = await planInputs(options, forced, registryFormats, problems);
  if (planned.some(({ input }) => input.role === 'dns' || input.role === 'zeek-names')) return undefined;

  // Only as many threads as the input pays for: a small audit on two threads is slower than on one.
  const bytes = planned.reduce((sum, { input }) => sum + (input.size ?? 0), 0);
  const threads = threadsFor(jobs, bytes, options.threadBytes);
  if (threads <= 1) return undefined;

  const items: Planned[] = [];
  for (const [entry, { input }] of planned.entries()) {
    const format = input.format;
    if (format === null) continue;
    const whole = {
      index: items.length,
      entry,
      path: input.path,
      name: input.name,
      format: format.name,
      prelude: [],
    };
    const ranges =
      readsDirectly(input) && input.size !== null && input.size >= (options.splitBytes ?? SPLIT_BYTES)
        ? await cut(input.path, input.size, threads, format)
        : null;
    if (ranges === null) {
      items.push(whole);
      continue;
    }
    for (const range of ranges)
      items.push({ ...whole, index: items.length, part: range.part, prelude: range.prelude });
  }

  const init: JobInit = {
    catalog: options.policy.catalog,
    topology: options.topology ?? emptyTopology,
    component: options.component,
    formatOptions: options.formatOptions,
    // Parts may list problems another part lists first: each keeps some more than the report.
    limits: { ...options.limits, problems: problemsLimit * 2 },
    fastCount: options.fastCount,
    wasmScan: options.wasmScan,
    scanModule: options.wasmScan === false || options.fastCount === false ? null : scanModule(),
    exit: options.workerExit,
  };
  const workers = startedWorkers(script, Math.min(threads, items.length) - 1, options.workers);
  const results = await runWorkers(workers, items, init, options);
  if (results === undefined || !(await rereadMisheaded(items, results, options.policy, init)))
    return undefined;
  const state = merge(planned, items, results, options, problems);
  return state === undefined ? undefined : reportOf(state, options);
}

/** Threads an audit of `bytes` uses with `--jobs N`: one per `threadBytes` (THREAD_BYTES), at most N. */
function threadsFor(jobs: number, bytes: number, threadBytes = THREAD_BYTES): number {
  return Math.min(jobs, Math.floor(bytes / Math.max(1, threadBytes)));
}

/**
 * Worker threads started when an audit begins (startJobWorkers), before its catalog and topology
 * are read, so that each worker loads its modules while the main thread loads its own and reads
 * the catalog, and is waiting for its first item when the audit is planned. Unreferenced until
 * runJobs takes them: idle ones never keep the process alive. close() ends those not taken.
 */
export class JobWorkers {
  readonly #idle: Worker[] = [];

  constructor(script: string, count: number) {
    for (let i = 0; i < count; i++) {
      const worker = startWorker(script);
      worker.unref();
      // A worker that fails or ends before it is taken is dropped (runJobs starts another).
      const drop = () => {
        const at = this.#idle.indexOf(worker);
        if (at >= 0) this.#idle.splice(at, 1);
      };
      worker.on('error', drop);
      worker.on('exit', drop);
      this.#idle.push(worker);
    }
  }

  /** Up to `count` running workers, referenced again; whoever takes them ends them. */
  take(count: number): Worker[] {
    const taken = this.#idle.splice(0, Math.max(0, count));
    for (const worker of taken) worker.ref();
    return taken;
  }

  close(): void {
    for (const worker of this.#idle.splice(0)) void worker.terminate();
  }
}

/**
 * A worker that optimises its code on its own thread. Node 20 aborts the whole process
 * (`NodePlatform::ForIsolate` assertion) when a worker's isolate is torn down while V8 still
 * optimises its code on a background thread: seen in CI when an audit's workers were terminated
 * right after their last item. The flag is read when an isolate is created; the main thread's
 * own isolate keeps its background compiler.
 */
function startWorker(script: string): Worker {
  setFlagsFromString('--no-concurrent-recompilation');
  return new Worker(script);
}

/**
 * Starts the workers an audit of these inputs would use with `--jobs N` (THREAD_BYTES per thread;
 * undefined for none), to be passed as AuditOptions.workers. Call it first, before the catalog
 * is loaded; the audit may still run on one thread (see runJobs), which then ends them.
 */
export function startJobWorkers(
  inputs: readonly string[],
  jobs: number | undefined,
  threadBytes?: number,
): JobWorkers | undefined {
  if ((jobs ?? 1) <= 1 || inputs.includes('-')) return undefined;
  const script = workerScript();
  if (script === undefined) return undefined;
  const bytes = expandInputs(inputs).files.reduce((sum, file) => sum + (file.size ?? 0), 0);
  const threads = threadsFor(jobs ?? 1, bytes, threadBytes);
  return threads > 1 ? new JobWorkers(script, threads - 1) : undefined;
}

/** `count` workers: those started early (AuditOptions.workers) first, then new ones. */
function startedWorkers(script: string, count: number, early: JobWorkers | undefined): Worker[] {
  const workers = early?.take(count) ?? [];
  while (workers.length < count) workers.push(startWorker(script));
  return workers;
}

/**
 * The worker script next to this module when it is built (tsc's dist/src/audit/, or the CLI's bundle,
 * whose worker entry sits beside its chunks: scripts/bundle-cli.ts), or in dist/ when it is not built.
 */
function workerScript(): string | undefined {
  const here = fileURLToPath(new URL('./audit-worker.js', import.meta.url));
  if (existsSync(here)) return here;
  const built = join(packageRoot(), 'dist', 'src', 'audit', 'audit-worker.js');
  return existsSync(built) ? built : undefined;
}

/**
 * Byte ranges of about size / jobs each (the last one larger: rangeShare), cut after a newline;
 * every range after the first is read after the header block at the top of the file
 * (rereadMisheaded corrects those that needed another one). Null when the input cannot be cut (no
 * newline near a cut, a header block at the top longer than 64 KiB).
 */
async function cut(
  path: string,
  size: number,
  jobs: number,
  format: IngestFormat,
): Promise<{ part: RangePart; prelude: string[] }[] | null> {
  const handle = await open(path, 'r');
  const bounds = [0];
  let top: string[] = [];
  try {
    const probe = Buffer.allocUnsafe(1 << 16);
    const share = rangeShare(size, jobs);
    for (let k = 1; k < jobs; k++) {
      const at = Math.floor(share * k);
      if (at <= (bounds[bounds.length - 1] as number)) continue;
      const { bytesRead } = await handle.read(probe, 0, probe.length, at - 1);
      const newline = probe.subarray(0, bytesRead).indexOf(0x0a);
      if (newline < 0) return null;
      const bound = at + newline;
      if (bound < size) bounds.push(bound);
    }
    if (format.headerLine && bounds.length > 1) {
      const { bytesRead } = await handle.read(probe, 0, probe.length, 0);
      const block = topHeaders(probe.subarray(0, bytesRead), bytesRead < probe.length, format);
      if (block === null) return null;
      top = block;
    }
  } finally {
    await handle.close();
  }
  bounds.push(size);
  const ranges: { part: RangePart; prelude: string[] }[] = [];
  for (let k = 0; k + 1 < bounds.length; k++) {
    const prelude = k > 0 ? top : [];
    ranges.push({
      part: {
        start: bounds[k] as number,
        end: bounds[k + 1] as number,
        prelude: preludeBytes(prelude),
        headers: format.headerLine !== undefined && k + 2 < bounds.length,
      },
      prelude,
    });
  }
  return ranges;
}

/**
 * Bytes of each range but the last when `size` bytes are cut into `jobs` ranges: an even share less
 * the last range's MAIN_EXTRA_BYTES (at most a quarter of a share), spread over the others.
 */
export function rangeShare(size: number, jobs: number): number {
  if (jobs <= 1) return size;
  const even = size / jobs;
  const extra = Math.min(MAIN_EXTRA_BYTES, even / 4);
  return even - extra / (jobs - 1);
}

/**
 * The header lines in force after the block of header lines that opens `head` (the first bytes
 * of the file); null when the block may go on past them.
 */
function topHeaders(head: Buffer, whole: boolean, format: IngestFormat): string[] | null {
  let lines: string[] = [];
  let from = 0;
  while (from < head.length) {
    const end = head.indexOf(0x0a, from);
    if (end < 0 && !whole) return null;
    let text = head.toString('utf8', from, end < 0 ? head.length : end);
    if (text.endsWith('\r')) text = text.slice(0, -1);
    if (from === 0 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    const kind = format.headerLine?.(text);
    if (kind === undefined) break;
    if (kind !== 'comment') lines = headersAfter(lines, { start: kind === 'start', lines: [text] });
    if (end < 0) break;
    from = end + 1;
  }
  return lines;
}

function preludeBytes(lines: readonly string[]): Buffer | null {
  return lines.length > 0 ? Buffer.from(`${lines.join('\n')}\n`, 'utf8') : null;
}

/**
 * Checks, input by input and in order, that each range was read after the header lines in force
 * where it starts (those of the ranges before it, as they noted them); reads again, on this
 * thread, each one that was not (a log of several sections, cut after a header block other than
 * the first). False when a range's header lines could not be noted (too many).
 */
async function rereadMisheaded(
  items: Planned[],
  results: PartResult[],
  policy: Policy,
  init: JobInit,
): Promise<boolean> {
  let entry = -1;
  let inForce: string[] = [];
  for (const [index, item] of items.entries()) {
    if (item.part === undefined) continue;
    if (item.entry !== entry) {
      entry = item.entry;
      inForce = [];
    } else if (!sameLines(inForce, item.prelude)) {
      item.prelude = inForce;
      item.part = { ...item.part, prelude: preludeBytes(inForce) };
      const { entry: _entry, prelude: _lines, ...job } = item;
      results[index] = await readItem(job, policy, init);
    }
    const headers = (results[index] as PartResult).headers;
    if (headers === null) return false;
    if (headers !== undefined) inForce = headersAfter(inForce, headers);
  }
  return true;
}

function sameLines(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((line, i) => line === b[i]);
}

/**
 * Reads one item with readAll() on a fresh state and returns its counts as plain data (on a worker
 * thread, or on this one).
 */
export async function readItem(item: JobItem, policy: Policy, init: JobInit): Promise<PartResult> {
  const state = await readAll({
    inputs: [item.path],
    rename: () => item.name,
    policy,
    topology: init.topology,
    component: init.component,
    format: item.format,
    formatOptions: init.formatOptions,
    limits: init.limits,
    fastCount: init.fastCount,
    wasmScan: init.wasmScan,
    part: item.part,
  });
  const entry = state.planned[0];
  return {
    item: item.index,
    aggregate: state.aggregate.snapshot(),
    problems: state.problems.listed.map((problem) => ({
      ...problem,
      once: state.onceKeys.get(problem) ?? null,
    })),
    problemTotal: state.problems.total,
    failures: state.problems.inputs,
    report: entry === undefined ? null : entry.report,
    dnsAnswers: state.dns.answers,
    seen: state.seen ?? null,
    lines: state.lines,
    headers: state.headers,
  };
}

/**
 * Runs the items on `count` threads: this one and `count - 1` workers (a worker costs its own
 * module loading and JIT warm-up); undefined when one fails with an error (the audit then runs on
 * one thread). A worker that exits while it holds an item, without an error (process.exit in it,
 * a crash that only ends the thread), rejects with PW_ERR_INTERNAL naming that item's file and
 * range, instead of leaving the audit waiting for a result that never comes.
 */
function runWorkers(
  workers: readonly Worker[],
  items: readonly Planned[],
  init: JobInit,
  options: AuditOptions,
): Promise<PartResult[] | undefined> {
  const count = workers.length + 1;
  return new Promise((resolve, reject) => {
    const results: PartResult[] = new Array(items.length);
    let next = 0;
    let done = 0;
    let settled = false;
    let flows = 0;
    let bytes = 0;
    const total = items.reduce((sum, item) => sum + (item.part ? item.part.end - item.part.start : 0), 0);
    options.progress?.update({
      step: 1,
      steps: 1,
      file: `${items.length} parts on ${count} threads`,
      total: total > 0 ? total : null,
      bytesRead: () => bytes,
      flows: () => flows,
    });
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      for (const worker of workers) void worker.terminate();
      options.progress?.stop();
      return true;
    };
    const finish = (value: PartResult[] | undefined) => {
      if (settle()) resolve(value);
    };
    const fail = () => finish(undefined);
    const take = (): JobItem | undefined => {
      const item = items[next];
      if (item === undefined) return undefined;
      next++;
      const { entry: _entry, prelude: _lines, ...job } = item;
      return job;
    };
    const record = (result: PartResult): void => {
      results[result.item] = result;
      flows += result.aggregate.flows;
      const item = items[result.item];
      if (item?.part) bytes += item.part.end - item.part.start;
      done++;
      if (done === items.length) finish(results);
    };
    for (const worker of workers) {
      /** The item this worker was given and has not answered yet. */
      let holding: JobItem | undefined;
      const feed = () => {
        holding = take();
        worker.postMessage(holding ?? null);
      };
      worker.on('message', (result: PartResult | { item: number; error: string }) => {
        if (settled) return;
        holding = undefined;
        if ('error' in result) return fail();
        record(result);
        if (!settled) feed();
      });
      worker.on('error', fail);
      worker.on('exit', (code) => {
        if (holding === undefined || !settle()) return;
        reject(
          new PathwardenError(
            'PW_ERR_INTERNAL',
            `audit --jobs: the worker thread reading ${describeItem(holding)} exited with code ${code} before returning its counts; no report was made (run the audit again, or with --jobs 1)`,
          ),
        );
      });
      worker.postMessage(init);
      feed();
    }
    void (async () => {
      for (let item = take(); item !== undefined && !settled; item = take()) {
        try {
          record(await readItem(item, options.policy, init));
        } catch {
          fail();
        }
      }
    })();
  });
}

/** `access.log, bytes 0 to 1048576` or `access.log` (a whole input). */
function describeItem(item: JobItem): string {
  return item.part ? `${item.name}, bytes ${item.part.start} to ${item.part.end}` : item.name;
}

/** The state one job would have, from the parts in input order; undefined when not exact. */
function merge(
  planned: PlannedEntry[],
  items: readonly Planned[],
  results: readonly PartResult[],
  options: AuditOptions,
  problems: ProblemLog,
): AuditState | undefined {
  const limits = options.limits ?? {};
  const aggregate = new AuditAggregate(options.component ?? 'saas', limits);
  const byEntry = new Map<number, { lines: number; once: Set<string>; seen: boolean; flows: number }>();
  for (const [index, item] of items.entries()) {
    const result = results[index] as PartResult;
    if (result.dnsAnswers > 0) return undefined;
    const entry = planned[item.entry] as PlannedEntry;
    let file = byEntry.get(item.entry);
    if (file === undefined) {
      file = { lines: 0, once: new Set(), seen: false, flows: 0 };
      byEntry.set(item.entry, file);
    }
    const preludeLines = item.prelude.length;
    const shift = item.part && item.part.start > 0 ? file.lines - preludeLines : 0;
    const leaks = result.aggregate.leaks.map((leak) =>
      leak.line === null ? leak : { ...leak, line: leak.line + shift },
    );
    if (!aggregate.merge({ ...result.aggregate, leaks })) return undefined;
    let dropped = 0;
    for (const problem of result.problems) {
      const inPrelude = shift !== 0 && problem.line <= preludeLines;
      const repeated = problem.once !== null && file.once.has(problem.once);
      if (inPrelude || repeated) {
        dropped++;
        continue;
      }
      if (problem.once !== null) file.once.add(problem.once);
      problems.add(problem.file, problem.line + (item.part ? shift : 0), problem.message);
    }
    problems.countMore(entry.input.name, result.problemTotal - result.problems.length);
    for (const failure of result.failures) problems.addInput(failure.file, failure.message);
    const report = entry.report;
    if (result.report !== null) {
      report.records += result.report.records;
      report.flows += result.report.flows;
      report.problems += result.report.problems - dropped;
      if (result.report.status === 'failed') {
        report.status = 'failed';
        report.message ??= result.report.message;
      }
    }
    if (result.seen?.sawContent) file.seen = true;
    file.flows += result.seen?.flows ?? 0;
    file.lines += result.lines - preludeLines;
    const last = items[index + 1]?.entry !== item.entry;
    if (
      last &&
      item.part &&
      isUnrecognised({ sawContent: file.seen, flows: file.flows, problems: report.problems })
    ) {
      problems.add(entry.input.name, 1, unrecognisedMessage(entry.input.format?.name as FormatName));
      report.problems++;
    }
  }
  return {
    aggregate,
    problems,
    planned,
    dns: new DnsAnswers(),
    join: new ZeekNameJoin(limits.zeekJoin),
    topology: options.topology ?? emptyTopology,
    onceKeys: new Map(),
    lines: 0,
  };
}
