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
// table that overflows, or no built worker script (dist/src/audit/audit-worker.js); and when a
// worker fails. Each time, AuditOptions.onJobsFallback is told why (jobs-fallback.ts).
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { Worker } from 'node:worker_threads';
import { packageRoot } from '../catalog/builtin.js';
import type { Component } from '../catalog/model.js';
import { isUnrecognised, unrecognisedMessage } from '../ingest/batches.js';
import { DnsAnswers } from '../ingest/dns-answers.js';
import { FILE_CHUNK_BYTES, type FileChunks } from '../ingest/file-chunks.js';
import type { FormatName, FormatOptions, IngestFormat } from '../ingest/format.js';
import { emptyTopology, type Topology } from '../policy/path-resolver.js';
import type { Policy } from '../policy/policy.js';
import { type AggregateSnapshot, AuditAggregate } from './aggregate.js';
import type { AuditReport, InputReport } from './audit-report.js';
import { readsDirectly, registryFormats } from './input-plan.js';
import { expandInputs } from './inputs.js';
import { JobProgress } from './job-progress.js';
import { addMarks, mark, printMarks, type TraceMark, takeMarks } from './job-trace.js';
import { type JobsFallback, jobsFallback, oneThreadFallback } from './jobs-fallback.js';
import { type AuditProblem, type InputFailure, ProblemLog } from './problems.js';
import { headersAfter, type RangeHeaders } from './range-headers.js';
import {
  type AuditLimits,
  type AuditOptions,
  type AuditProgress,
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
  /** AuditOptions.workerFail (tests): a worker answers every item with an error. */
  fail?: boolean;
}

/** What a worker sends: that it is ready for an item (audit-worker.ts), an item's counts, or its error. */
type WorkerMessage = { ready: true } | PartResult | { item: number; error: string };

/** One input, or one byte range of it. */
export interface JobItem {
  index: number;
  path: string;
  name: string;
  format: FormatName;
  part?: RangePart;
  /** Where a worker shares its bytes read and flows while it reads (JobProgress.remote). */
  progress?: SharedArrayBuffer;
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
  /** The worker's timeline marks (PATHWARDEN_JOBS_TRACE=1, job-trace.ts). */
  trace?: TraceMark[];
}

interface Planned extends JobItem {
  entry: number;
  /** The prelude's header lines (none for whole inputs and first ranges). */
  prelude: string[];
}

/**
 * The report of a multi-job audit, or undefined when it has to run on one thread; then, unless
 * `jobs` is 1, options.onJobsFallback is told why (after the progress bar is cleared).
 */
export async function runJobs(options: AuditOptions): Promise<AuditReport | undefined> {
  const jobs = options.jobs ?? 1;
  const script = workerScript();
  let outcome: AuditReport | JobsFallback | undefined;
  /** Why threads asked for did not read, told even though the report comes from this read. */
  const notes: JobsFallback[] = [];
  try {
    mark('runJobs');
    outcome = await runOnThreads(options, jobs, script, notes);
    mark(isFallback(outcome) ? `one job: ${outcome.code} ${outcome.reason}` : 'report built');
  } finally {
    options.progress?.stop();
    printMarks();
    // Started workers this audit did not use (it stayed on one thread, or needed fewer).
    options.workers?.close();
  }
  if (!isFallback(outcome)) {
    for (const note of notes) await options.onJobsFallback?.(note);
    return outcome;
  }
  await options.onJobsFallback?.(outcome);
  return undefined;
}

/** A fallback rather than what a step gives when it succeeds (a report, a state, parts). */
function isFallback<T extends object>(outcome: T | JobsFallback | undefined): outcome is JobsFallback {
  return outcome !== undefined && 'rerun' in outcome && 'code' in outcome;
}

/** The report, why the audit has to run on one thread, or undefined with one job asked for. */
async function runOnThreads(
  options: AuditOptions,
  jobs: number,
  script: string | undefined,
  notes: JobsFallback[],
): Promise<AuditReport | JobsFallback | undefined> {
  if (jobs <= 1) return undefined;
  if (script === undefined)
    return jobsFallback('PW_JOBS_UNAVAILABLE', 'no worker script is built (npm run build)');
  const inOrder = [
    options.strict && '--strict',
    (options.sinks?.length ?? 0) > 0 && 'per-flow outputs (--ndjson, --csv, --store)',
    options.inputs.includes('-') && 'stdin',
  ].filter((why) => typeof why === 'string');
  if (inOrder.length > 0)
    return jobsFallback('PW_JOBS_IN_ORDER', `${inOrder.join(', ')}: flows are read in order on one thread`);
  if (options.formats !== undefined)
    return jobsFallback('PW_JOBS_UNAVAILABLE', 'the formats are not the built-in ones workers load');
  const problemsLimit = options.limits?.problems ?? 1000;
  const forced = options.format === undefined ? undefined : registryFormats.get(options.format);
  // (No note: the one-job read stops with PW_ERR_USAGE, which says it.)
  if (options.format !== undefined && forced === undefined) return undefined;
  // Planning notes skipped inputs here, first, as one job does.
  const problems = new ProblemLog(options.limits?.problems);
  const planned = await planInputs(options, forced, registryFormats, problems);
  mark('inputs planned');
  const first = planned.find(({ input }) => input.role === 'dns' || input.role === 'zeek-names');
  if (first !== undefined)
    return jobsFallback(
      'PW_JOBS_IN_ORDER',
      `${first.input.name} is a ${first.input.role === 'dns' ? 'DNS log' : 'Zeek ssl/http log'}, whose names classify later flows`,
    );

  // Only as many threads as the input pays for: a small audit on two threads is slower than on one.
  const bytes = planned.reduce((sum, { input }) => sum + (input.size ?? 0), 0);
  const { threads, fallback } = threadsFor(jobs, bytes, options.threadBytes);
  if (fallback !== undefined) return fallback;

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
    fail: options.workerFail,
  };

  // One large input: this thread starts reading it now and hands each worker the end of what it
  // has left when the worker is ready (splitLate).
  const only = planned.length === 1 ? planned[0]?.input : undefined;
  if (
    only?.format &&
    readsDirectly(only) &&
    only.size !== null &&
    (options.lateSplit !== undefined || (options.splitBytes === undefined && only.size >= SPLIT_BYTES))
  ) {
    const late = await splitLate(
      only.path,
      only.name,
      only.size,
      only.format,
      threads,
      init,
      options,
      script,
    );
    mark('all parts read');
    if (isFallback(late)) return late;
    if (late.items.length === 1) notes.push(late.unshared);
    const misheaded = await rereadMisheaded(late.items, late.results, options.policy, init);
    if (misheaded !== undefined) return misheaded;
    const state = merge(planned, late.items, late.results, options, problems);
    mark('parts merged');
    return isFallback(state) ? state : reportOf(state, options);
  }

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

  mark('inputs cut');
  const workers = startedWorkers(script, Math.min(threads, items.length) - 1, options.workers);
  const results = await runWorkers(workers, items, init, options);
  mark('all parts read');
  if (!Array.isArray(results)) return results;
  const misheaded = await rereadMisheaded(items, results, options.policy, init);
  if (misheaded !== undefined) return misheaded;
  const state = merge(planned, items, results, options, problems);
  mark('parts merged');
  return isFallback(state) ? state : reportOf(state, options);
}

/**
 * Threads an audit of `bytes` uses with `--jobs N` (N above 1): one per `threadBytes`
 * (THREAD_BYTES), at most N, and, with the default THREAD_BYTES, no more than this thread and one
 * per idle core (`idle`, default idleCores(), of `cores`); with one thread, why.
 */
export function threadsFor(
  jobs: number,
  bytes: number,
  threadBytes?: number,
  idle?: number,
  cores = availableParallelism(),
): { threads: number; fallback?: JobsFallback } {
  const perThread = threadBytes ?? THREAD_BYTES;
  const byBytes = Math.min(jobs, Math.floor(bytes / Math.max(1, perThread)));
  const free = threadBytes === undefined ? (idle ?? idleCores()) : undefined;
  const threads = free === undefined ? byBytes : Math.min(byBytes, 1 + free);
  if (threads > 1) return { threads };
  return { threads, fallback: oneThreadFallback(bytes, perThread, free, cores) };
}

/**
 * Cores no other process is using: the cores less the load average of the last minute, rounded
 * (`make -l` works alike). A worker only pays when it has a core to itself: with other processes
 * runnable on every core, two jobs took 1.4-1.6x the CPU of one and were slower on the wall clock
 * (docs/performance.md, "`--jobs`, session 9"). PATHWARDEN_JOBS_IGNORE_LOAD=1 counts every core
 * as idle (for measuring).
 */
export function idleCores(load = currentLoad(), cores = availableParallelism()): number {
  if (process.env.PATHWARDEN_JOBS_IGNORE_LOAD === '1') return cores;
  return Math.max(0, Math.round(cores - load));
}

/** The kernel updates its load averages every 5 s: read once per 5 s, startJobWorkers and
 * runJobs of one audit see the same value, so they start and use the same number of threads. */
let loadRead: { at: number; load: number } | undefined;

function currentLoad(): number {
  const now = Date.now();
  if (loadRead === undefined || now - loadRead.at >= 5000) loadRead = { at: now, load: loadavg()[0] ?? 0 };
  return loadRead.load;
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
  mark('worker spawned');
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
  const { threads } = threadsFor(jobs ?? 1, bytes, threadBytes);
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
 * the first). A fallback when a range's header lines could not be noted (too many), else undefined.
 */
async function rereadMisheaded(
  items: Planned[],
  results: PartResult[],
  policy: Policy,
  init: JobInit,
): Promise<JobsFallback | undefined> {
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
    if (headers === null)
      return jobsFallback(
        'PW_JOBS_NOT_MERGEABLE',
        `a range of ${item.name} has too many Zeek header lines to hand on to the next`,
      );
    if (headers !== undefined) inForce = headersAfter(inForce, headers);
  }
  return undefined;
}

function sameLines(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((line, i) => line === b[i]);
}

/**
 * Reads one item with readAll() on a fresh state and returns its counts as plain data (on a worker
 * thread, or on this one).
 */
export async function readItem(
  item: JobItem,
  policy: Policy,
  init: JobInit,
  partChunks?: (chunks: FileChunks) => void,
  progress?: AuditProgress,
): Promise<PartResult> {
  mark(`item ${item.index} starts`);
  const state = await readAll({
    partChunks,
    progress,
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
  mark(`item ${item.index} read`);
  const entry = state.planned[0];
  const aggregate = state.aggregate.snapshot();
  mark(`item ${item.index} snapshot`);
  return {
    item: item.index,
    aggregate,
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
    trace: takeMarks(),
  };
}

/**
 * Runs the items on `count` threads: this one and `count - 1` workers (a worker costs its own
 * module loading and JIT warm-up); a fallback when one fails with an error, or exits while it
 * holds an item (process.exit in it, a crash that only ends the thread): this thread stops reading
 * and the audit runs on one thread.
 */
function runWorkers(
  workers: readonly Worker[],
  items: readonly Planned[],
  init: JobInit,
  options: AuditOptions,
): Promise<PartResult[] | JobsFallback> {
  return new Promise((resolve) => {
    const seams = options.rangeSplit ?? {};
    const results: PartResult[] = new Array(items.length);
    let next = 0;
    let done = 0;
    const ending = new Ending(workers, options);
    const total = items.reduce((sum, item) => sum + rangeBytes(item), 0);
    const bar = new JobProgress(
      options.progress,
      `${items.length} parts`,
      total > 0 ? total : null,
      workers.length + 1,
    );
    /** Each item's part of the progress bar, by index, once a thread has it. */
    const partDone: ((flows: number, bytes: number) => void)[] = [];
    /** This thread's reader of the item it reads (cancelled when the audit fails). */
    let mine: FileChunks | undefined;
    const settle = (ok: boolean): boolean => ending.settle(ok);
    const finish = (value: PartResult[] | JobsFallback) => {
      if (settle(Array.isArray(value))) resolve(value);
    };
    const fail = (why: JobsFallback) => {
      // This thread's read of its item ends at its next chunk: the one-job audit that follows
      // would otherwise share the event loop (and a core) with it.
      if (mine) mine.end = 0;
      finish(why);
    };
    const take = (where?: 'here'): JobItem | undefined => {
      const item = items[next];
      if (item === undefined) return undefined;
      next++;
      const { entry: _entry, prelude: _lines, ...job } = item;
      if (where === 'here') return job;
      const remote = bar.remote(rangeBytes(item));
      partDone[job.index] = remote.done;
      return { ...job, progress: remote.shared };
    };
    const record = (result: PartResult): void => {
      mark(`item ${result.item} result received`);
      addMarks(result.trace);
      results[result.item] = result;
      partDone[result.item]?.(result.aggregate.flows, rangeBytes(items[result.item] as Planned));
      done++;
      if (done === items.length) finish(results);
    };
    /** Each worker's first item, posted once this thread reads (seams.waitForWorkers). */
    const firstItems: (() => void)[] = [];
    let ready = 0;
    let allReady: () => void = () => undefined;
    const everyoneReady = new Promise<void>((done) => {
      allReady = done;
      if (workers.length === 0) done();
    });
    for (const worker of workers) {
      /** The item this worker was given and has not answered yet. */
      let holding: JobItem | undefined;
      let counted = false;
      // (A worker that ends before it is ready counts too: the seam's wait must not hang.)
      const count = () => {
        if (counted) return;
        counted = true;
        if (++ready === workers.length) allReady();
      };
      const feed = () => {
        holding = take();
        worker.postMessage(holding ?? null);
      };
      worker.on('message', (result: WorkerMessage) => {
        if ('ready' in result) count();
        if (ending.settled || 'ready' in result) return;
        const held = holding;
        holding = undefined;
        if ('error' in result) return fail(workerFailed(held, result.error));
        record(result);
        if (!ending.settled) feed();
      });
      worker.on('error', (error) => fail(workerFailed(holding, error.message)));
      // Ending with an item and without its counts (process.exit in the worker, a crash that only
      // ends the thread) is a failure like an error: waiting would never end, and this thread's
      // own read is as useless as after an error. (An 'error' is followed by 'exit': fail acts once.)
      worker.on('exit', (code) => {
        count();
        if (holding === undefined || ending.settled) return;
        mark(`worker holding item ${holding.index} exited with code ${code}`);
        fail(workerExited(holding, code));
      });
      worker.postMessage(init);
      // The workers take the first items (this thread the last), whenever the seam posts them.
      holding = take();
      const first = holding ?? null;
      if (seams.waitForWorkers) firstItems.push(() => worker.postMessage(first));
      else worker.postMessage(first);
    }
    // With the seam, the workers' first items wait for this thread's first read; an item read whole
    // (no part: an uncut file, a capture, gzip) never opens a reader, so they go when it ends.
    const postFirstItems = () => {
      for (const post of firstItems.splice(0)) post();
    };
    void (async () => {
      if (seams.waitForWorkers) await everyoneReady;
      for (let item = take('here'); item !== undefined && !ending.settled; item = take('here')) {
        const local = bar.local(rangeBytes(items[item.index] as Planned));
        partDone[item.index] = local.done;
        try {
          const result = await readItem(
            item,
            options.policy,
            init,
            (reader) => {
              mine = reader;
              if (seams.chunkBytes !== undefined) reader.chunkBytes = seams.chunkBytes;
              if (ending.settled) reader.end = 0;
              postFirstItems();
            },
            local.progress,
          );
          seams.mine?.(mine?.bytesRead ?? 0, rangeBytes(items[item.index] as Planned));
          mine = undefined;
          if (ending.settled) return;
          record(result);
        } catch (error) {
          fail(readFailed(item, error));
        } finally {
          postFirstItems();
        }
      }
      postFirstItems();
    })();
  });
}

/**
 * Bytes of the input a worker's own start costs, as reading time of this thread: a worker reads
 * its first flows of each key through JavaScript, instantiates the scanner and compiles its code
 * again, while this thread, already reading, has done all that. splitLate gives a worker that much
 * less than an even share of what is left (docs/performance.md, "`--jobs`, session 9").
 */
export const WORKER_WARMUP_BYTES = 192 << 20;
/** splitLate gives a worker no range smaller than this: it would cost more than it saves. */
const MIN_WORKER_BYTES = 32 << 20;

/** Test seams of this thread's reads, in runWorkers (AuditOptions.rangeSplit) and splitLate. */
export interface ThreadSeams {
  /** This thread's read size (FileChunks.chunkBytes). */
  chunkBytes?: number;
  /**
   * This thread starts reading once every worker is ready; in runWorkers each worker then gets its
   * first item once this thread reads its own, so that the worker's answer comes while it reads.
   */
  waitForWorkers?: boolean;
  /** Given the bytes this thread read of its range, and the range's size, when it stops reading. */
  mine?: (read: number, range: number) => void;
}

/** Test seams of splitLate (AuditOptions.lateSplit). */
export interface LateSplit extends ThreadSeams {
  warmupBytes?: number;
  minBytes?: number;
  /** Given the start of every part, in file order, when all are read. */
  parts?: (starts: number[]) => void;
}

/**
 * Reads one input on this thread from its start, and gives each worker, as soon as it is ready,
 * the end of this thread's range: an even share of what this thread has not read yet, less
 * WORKER_WARMUP_BYTES, cut after a newline (the ranges after the first are read after the header
 * lines at the top of the file; rereadMisheaded corrects those). A worker that is ready too late
 * for a share of MIN_WORKER_BYTES gets nothing, so a worker that starts slowly (a loaded machine)
 * costs its start-up and no waiting: the audit never waits for a worker to start. Returns the
 * parts in file order with their counts; a fallback when a part failed (the audit runs on one
 * thread) or the header block at the top is too long to give the later ranges.
 */
async function splitLate(
  path: string,
  name: string,
  size: number,
  format: IngestFormat,
  threads: number,
  init: JobInit,
  options: AuditOptions,
  script: string,
): Promise<{ items: Planned[]; results: PartResult[]; unshared: JobsFallback } | JobsFallback> {
  const seams = options.lateSplit ?? {};
  const warmup = seams.warmupBytes ?? WORKER_WARMUP_BYTES;
  const least = Math.max(1, seams.minBytes ?? MIN_WORKER_BYTES);
  let top: string[] = [];
  if (format.headerLine) {
    const head = await readHead(path);
    const block = topHeaders(head, head.length < HEAD_BYTES, format);
    if (block === null)
      return jobsFallback(
        'PW_JOBS_UNCUTTABLE',
        `the header block at the top of ${name} is longer than 64 KiB`,
      );
    top = block;
  }
  const headers = format.headerLine !== undefined;
  const base = { entry: 0, path, name, format: format.name };
  const mine: Planned = {
    ...base,
    index: 0,
    part: { start: 0, end: size, prelude: null, headers },
    prelude: [],
  };
  const parts: { item: Planned; result?: PartResult }[] = [{ item: mine }];
  let end = size;
  let chunks: FileChunks | undefined;
  let reading = true;
  const workers = startedWorkers(script, threads - 1, options.workers);
  let unassigned = workers.length;
  /** Workers given no share, and why each of those that stopped before it was ready did. */
  let tooLate = 0;
  const unready: string[] = [];
  /** What the audit says when no worker got a share (PW_JOBS_NO_SHARE). */
  const unshared = (): JobsFallback => {
    const why = [
      ...(tooLate > 0 ? [`${tooLate} too late`] : []),
      ...(unready.length > 0
        ? [`${unready.length} stopped before it was ready: ${unready[0] as string}`]
        : []),
    ];
    return jobsFallback(
      'PW_JOBS_NO_SHARE',
      `no worker thread was ready in time for a share of ${name}${why.length > 0 ? ` (${why.join('; ')})` : ''}`,
    );
  };

  return new Promise((resolve) => {
    const ending = new Ending(workers, options);
    let outstanding = 0;
    let mainDone = false;
    // Named after the threads that read a part: this one, then each worker given a share.
    const bar = new JobProgress(options.progress, name, size);
    const local = bar.local(size);
    const settle = (ok: boolean): boolean => ending.settle(ok);
    const fail = (why: JobsFallback) => {
      if (!settle(false)) return;
      // This thread's read of its range ends at its next chunk: the one-job audit that follows
      // would otherwise share the event loop (and a core) with it.
      reading = false;
      if (chunks) chunks.end = 0;
      resolve(why);
    };
    const maybeDone = () => {
      if (!mainDone || outstanding > 0 || ending.settled) return;
      settle(true);
      const ordered = parts.sort((a, b) => (a.item.part?.start ?? 0) - (b.item.part?.start ?? 0));
      const items = ordered.map(({ item }, index) => ({ ...item, index }));
      const results = ordered.map(({ result }, index) => ({ ...(result as PartResult), item: index }));
      seams.parts?.(items.map(({ part }) => part?.start ?? 0));
      resolve({ items, results, unshared: unshared() });
    };
    /** The end of this thread's range for a worker ready now, or undefined for none. */
    const share = (): number | undefined => {
      const waiting = unassigned;
      unassigned--;
      const from = () =>
        (chunks ? chunks.start + chunks.bytesRead : 0) +
        2 * (chunks?.chunkBytes ?? seams.chunkBytes ?? FILE_CHUNK_BYTES);
      const bytes = (end - from() - warmup) / (waiting + 1);
      if (!reading || bytes < least) return undefined;
      const at = Math.floor(end - bytes);
      const bound = lineAfter(path, at);
      // The cut must be ahead of this thread's reads (the one in flight included).
      if (!reading || bound === undefined || bound <= from() || bound >= end) return undefined;
      return bound;
    };
    const assign = (worker: Worker, holding: { item?: JobItem }) => {
      let bound: number | undefined;
      try {
        bound = share();
      } catch {
        bound = undefined;
      }
      if (bound === undefined) {
        tooLate++;
        worker.postMessage(null);
        return;
      }
      const last = end === size;
      const item: Planned = {
        ...base,
        index: parts.length,
        part: { start: bound, end, prelude: preludeBytes(top), headers: headers && !last },
        prelude: top,
      };
      end = bound;
      if (chunks) chunks.end = bound;
      (mine.part as RangePart).end = bound;
      const entry: { item: Planned; result?: PartResult } = { item };
      parts.push(entry);
      outstanding++;
      const remote = bar.remote(rangeBytes(item));
      const { entry: _entry, prelude: _lines, ...rest } = item;
      const job: JobItem = { ...rest, progress: remote.shared };
      holding.item = job;
      mark(`worker gets bytes ${bound} to ${item.part?.end}`);
      worker.postMessage(job);
      worker.once('message', (result: WorkerMessage) => {
        if (ending.settled) return;
        holding.item = undefined;
        if ('error' in result) return fail(workerFailed(job, result.error));
        if ('ready' in result) return fail(workerFailed(job, 'it said it was ready twice'));
        mark(`item ${item.index} result received`);
        addMarks(result.trace);
        entry.result = result;
        remote.done(result.aggregate.flows, rangeBytes(item));
        outstanding--;
        maybeDone();
      });
    };
    let ready = 0;
    let allReady: () => void = () => undefined;
    const everyoneReady = new Promise<void>((done) => {
      allReady = done;
      if (workers.length === 0) done();
    });
    for (const worker of workers) {
      const holding: { item?: JobItem } = {};
      let counted = false;
      const count = () => {
        counted = true;
        if (++ready === workers.length) allReady();
      };
      // A worker that fails or ends before it is ready is left out: this thread reads on.
      const leaveOut = (why: string) => {
        if (counted) return;
        unassigned--;
        unready.push(why);
        count();
      };
      worker.once('message', (message: WorkerMessage) => {
        if (ending.settled) return;
        if (!('ready' in message)) return fail(workerFailed(undefined, 'it answered before it was ready'));
        mark('worker ready');
        count();
        assign(worker, holding);
      });
      // A worker that errs or ends while it holds a range fails the audit (it runs on one thread),
      // as in runWorkers; one that errs or ends without a range is left out.
      const stopped = (left: string, why: (item: JobItem) => JobsFallback) => {
        if (holding.item === undefined) leaveOut(left);
        else fail(why(holding.item));
      };
      worker.on('error', (error) =>
        stopped(`it failed: ${error.message}`, (item) => workerFailed(item, error.message)),
      );
      worker.on('exit', (code) => stopped(`it ended with code ${code}`, (item) => workerExited(item, code)));
      worker.postMessage(init);
    }
    void (async () => {
      try {
        if (seams.waitForWorkers) await everyoneReady;
        const { entry: _entry, prelude: _lines, ...job } = mine;
        const result = await readItem(
          job,
          options.policy,
          init,
          (reader) => {
            chunks = reader;
            if (seams.chunkBytes !== undefined) reader.chunkBytes = seams.chunkBytes;
            // (0 when the audit failed before this thread started: nothing is read)
            reader.end = ending.settled ? 0 : end;
          },
          local.progress,
        );
        const wasReading = reading;
        reading = false;
        seams.mine?.(chunks?.bytesRead ?? 0, rangeBytes(mine));
        if (!wasReading) return; // the audit failed meanwhile: this range was cancelled
        local.done(result.aggregate.flows, rangeBytes(mine));
        (parts[0] as { result?: PartResult }).result = result;
        addMarks(result.trace);
        mainDone = true;
        maybeDone();
      } catch (error) {
        fail(readFailed(mine, error));
      }
    })();
  });
}

/** `access.log`, or `access.log (bytes 0 to 1234)` for a range. */
function partName(item: JobItem): string {
  return item.part ? `${item.name} (bytes ${item.part.start} to ${item.part.end})` : item.name;
}

function workerFailed(item: JobItem | undefined, message: string): JobsFallback {
  const what = item === undefined ? 'a worker thread' : `a worker thread's read of ${partName(item)}`;
  return jobsFallback('PW_JOBS_WORKER_FAILED', `${what} failed: ${message}`);
}

function workerExited(item: JobItem, code: number): JobsFallback {
  return jobsFallback(
    'PW_JOBS_WORKER_EXITED',
    `a worker thread ended with code ${code} while reading ${partName(item)}`,
  );
}

function readFailed(item: JobItem, error: unknown): JobsFallback {
  const message = error instanceof Error ? error.message : String(error);
  return jobsFallback('PW_JOBS_READ_FAILED', `this thread's read of ${partName(item)} failed: ${message}`);
}

function rangeBytes(item: Planned): number {
  return item.part ? item.part.end - item.part.start : 0;
}

const HEAD_BYTES = 1 << 16;

async function readHead(path: string): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const head = Buffer.allocUnsafe(HEAD_BYTES);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return head.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/**
 * The offset after the first newline at or after `at - 1` (within 64 KiB), or undefined. Read
 * synchronously (64 KiB of a file being read, so in the page cache): the cut is made between two
 * of this thread's chunks, and cannot race with its reads.
 */
function lineAfter(path: string, at: number): number | undefined {
  const fd = openSync(path, 'r');
  try {
    const probe = Buffer.allocUnsafe(HEAD_BYTES);
    const bytesRead = readSync(fd, probe, 0, probe.length, at - 1);
    const newline = probe.subarray(0, bytesRead).indexOf(0x0a);
    return newline < 0 ? undefined : at + newline;
  } finally {
    closeSync(fd);
  }
}

/** Ends an audit's workers and its progress bar, once (when its parts are read, or one failed). */
class Ending {
  settled = false;

  constructor(
    readonly workers: readonly Worker[],
    readonly options: AuditOptions,
  ) {}

  /**
   * False when already done. When every part is read (`ok`), the bar stays, at 100 %, while the
   * parts are merged and the report is built (runJobs stops it).
   */
  settle(ok: boolean): boolean {
    if (this.settled) return false;
    this.settled = true;
    for (const worker of this.workers) void worker.terminate();
    if (!ok) this.options.progress?.stop();
    return true;
  }
}

/** The state one job would have, from the parts in input order; a fallback when not exact. */
function merge(
  planned: PlannedEntry[],
  items: readonly Planned[],
  results: readonly PartResult[],
  options: AuditOptions,
  problems: ProblemLog,
): AuditState | JobsFallback {
  const limits = options.limits ?? {};
  const aggregate = new AuditAggregate(options.component ?? 'saas', limits);
  const byEntry = new Map<number, { lines: number; once: Set<string>; seen: boolean; flows: number }>();
  for (const [index, item] of items.entries()) {
    const result = results[index] as PartResult;
    const entry = planned[item.entry] as PlannedEntry;
    if (result.dnsAnswers > 0)
      return jobsFallback(
        'PW_JOBS_NOT_MERGEABLE',
        `${entry.input.name} has DNS answers, which name the addresses of the flows after them`,
      );
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
    if (!aggregate.merge({ ...result.aggregate, leaks }))
      return jobsFallback(
        'PW_JOBS_NOT_MERGEABLE',
        `more distinct destinations than the report tracks (${aggregate.destinationLimit})`,
      );
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
