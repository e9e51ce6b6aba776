// `audit --jobs N` against one job: the JSON reports must be byte-identical on every fixture and
// sample, alone and together, with every line-based input cut into byte ranges (line numbers of
// problems and leak evidence included), and on logs made to cut Zeek headers and once-per-input
// problems across ranges. Needs the built worker (npm run build: dist/src/audit/audit-worker.js).
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { packageRoot } from '../catalog/load.js';
import type { FlowSink } from './flow-sink.js';
import { idleCores, rangeShare, runJobs, startJobWorkers, THREAD_BYTES, threadsFor } from './jobs.js';
import type { JobsFallback } from './jobs-fallback.js';
import type { AuditOptions, AuditProgress, ProgressState } from './run-audit.js';
import { fixtureFolders, fixtureInputs, jsonOf, reportTopology } from './test-reports.js';
import { builtinPolicy } from './test-support.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pathwarden-jobs-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * A single input cut late (splitLate): this thread waits for the workers, reads 64-byte chunks and
 * gives each worker a share of what it has left, however small.
 */
const late = { chunkBytes: 64, warmupBytes: 0, minBytes: 1, waitForWorkers: true };

/**
 * One job, then 2 and 3 jobs cutting every line-based input (splitBytes 1), and, for a single
 * input, cutting it late.
 */
async function compare(options: Partial<AuditOptions> & { inputs: string[] }): Promise<string> {
  const one = await jsonOf({ ...options, jobs: 1 });
  for (const jobs of [2, 3]) {
    expect(await jsonOf({ ...options, jobs, splitBytes: 1, threadBytes: 1 }), `${jobs} jobs`).toBe(one);
    if (options.inputs.length === 1)
      expect(await jsonOf({ ...options, jobs, threadBytes: 1, lateSplit: late }), `${jobs} jobs, late`).toBe(
        one,
      );
  }
  return one;
}

describe('audit --jobs', () => {
  test("the last range of a cut input (this thread's) is the larger one, by at most a quarter of a share", () => {
    const MiB = 1 << 20;
    // 600 MB on 2 threads: the worker's range is 16 MiB short of half, this thread's 16 MiB over.
    expect(rangeShare(600e6, 2)).toBe(300e6 - 16 * MiB);
    // 5 threads: the 16 MiB come evenly from the four workers' ranges; the shares cover the input.
    const share = rangeShare(1500e6, 5);
    expect(share).toBe(300e6 - 4 * MiB);
    expect(1500e6 - 4 * share).toBe(300e6 + 16 * MiB);
    // A small input: a quarter of an even share at most.
    expect(rangeShare(4000, 2)).toBe(1500);
    expect(rangeShare(4000, 1)).toBe(4000);
  });

  test('--jobs counts a core as idle when the load average leaves it free', () => {
    const saved = process.env.PATHWARDEN_JOBS_IGNORE_LOAD;
    try {
      delete process.env.PATHWARDEN_JOBS_IGNORE_LOAD;
      expect(idleCores(0, 2)).toBe(2);
      expect(idleCores(0.4, 2)).toBe(2);
      expect(idleCores(0.6, 2)).toBe(1);
      expect(idleCores(1.6, 2)).toBe(0);
      expect(idleCores(9.5, 2)).toBe(0);
      expect(idleCores(3.2, 8)).toBe(5);
      // Read once per 5 s: two calls in a row agree whatever the kernel's value does.
      expect(idleCores()).toBe(idleCores());
      process.env.PATHWARDEN_JOBS_IGNORE_LOAD = '1';
      expect(idleCores(9.5, 2)).toBe(2);
      expect(idleCores()).toBe(availableParallelism());
    } finally {
      if (saved === undefined) delete process.env.PATHWARDEN_JOBS_IGNORE_LOAD;
      else process.env.PATHWARDEN_JOBS_IGNORE_LOAD = saved;
    }
  });

  test('the worker script is built', () => {
    expect(existsSync(join(packageRoot(), 'dist', 'src', 'audit', 'audit-worker.js'))).toBe(true);
  });

  test.each(fixtureInputs())('same JSON report as one job: %s', async (path) => {
    await compare({ inputs: [path] });
  });

  test('same JSON report on all fixtures together', async () => {
    expect(await compare({ inputs: fixtureFolders() })).toContain('"flows"');
  });

  test('same report when ranges cut Zeek sections, bad lines and once-per-input notices', async () => {
    const zeek = join(dir, 'conn.log');
    const header = (path: string) => [
      '#separator \\x09',
      `#path\t${path}`,
      '#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tduration\torig_bytes\tresp_bytes',
    ];
    const lines: string[] = ['1700000000.000000\tC0\t10.1.0.1\t1\t13.73.248.9\t443\ttcp\t1\t1\t1'];
    for (const section of ['conn', 'weird', 'conn']) {
      lines.push(...header(section));
      for (let i = 0; i < 400; i++) {
        const bad = i % 37 === 5 ? 'x' : String(i);
        lines.push(
          `${1_700_000_000 + i}.5\tC${i}\t10.1.0.${i % 5}\t${40000 + i}\t${i % 2 ? '13.73.248.9' : '52.123.1.10'}\t443\ttcp\t0.5\t${bad}\t${i * 3}`,
        );
      }
    }
    writeFileSync(zeek, `${lines.join('\n')}\n`);
    const squid = join(dir, 'access.log');
    const squidLines: string[] = [];
    for (let i = 0; i < 900; i++) {
      const hierarchy =
        i % 50 === 3 ? 'ODD_CODE/10.0.0.1' : i % 2 ? 'FIRSTUP_PARENT/10.9.0.2' : 'HIER_DIRECT/93.184.216.34';
      squidLines.push(
        `${1_700_000_000 + i}.000 10 10.1.0.1 TCP_TUNNEL/200 ${i} CONNECT ${i % 3 ? 'api.powerbi.com' : 'app.powerbi.com'}:443 - ${hierarchy} -`,
      );
    }
    writeFileSync(squid, squidLines.join('\n')); // no final newline
    // These inputs do run on workers (no silent fallback to one job).
    const parallel = await runJobs({
      inputs: [zeek, squid],
      policy: builtinPolicy(),
      topology: reportTopology,
      jobs: 2,
      splitBytes: 1,
      threadBytes: 1,
    });
    expect(parallel?.flows).toBeGreaterThan(1000);
    // Under THREAD_BYTES per thread the same audit stays on this thread (runJobs declines).
    const small = { inputs: [zeek, squid], policy: builtinPolicy(), topology: reportTopology, jobs: 2 };
    expect(await runJobs({ ...small, splitBytes: 1 })).toBeUndefined();
    expect(await runJobs({ ...small, splitBytes: 1, threadBytes: THREAD_BYTES })).toBeUndefined();
    for (const limits of [{}, { leaks: 5, problems: 4 }]) {
      const report = JSON.parse(await compare({ inputs: [zeek, squid], limits }));
      expect(report.flows).toBeGreaterThan(1000);
    }
    // Workers started before the audit (as the CLI does) give the same report, and are all ended.
    const inputs = [zeek, squid];
    const early = startJobWorkers(inputs, 3, 1);
    expect(early).toBeDefined();
    const one = await jsonOf({ inputs, jobs: 1 });
    expect(await jsonOf({ inputs, jobs: 3, splitBytes: 1, threadBytes: 1, workers: early })).toBe(one);
    expect(early?.take(1)).toEqual([]);
    // An audit that stays on one thread ends the workers started for it.
    const unused = startJobWorkers(inputs, 2, 1);
    expect(await runJobs({ ...small, splitBytes: 1, workers: unused })).toBeUndefined();
    expect(unused?.take(1)).toEqual([]);
    expect(startJobWorkers(inputs, 2)).toBeUndefined();
    expect(startJobWorkers([...inputs, '-'], 2, 1)).toBeUndefined();
  });

  // Ranges after the first are read after the header block at the top of the file; one that starts
  // in a later section, whose #fields differ, is read again after that section's header lines.
  test('same report when a range starts in a section with other #fields than the top one', async () => {
    const zeek = join(dir, 'sections.log');
    const fields = ['ts', 'uid', 'id.orig_h', 'id.orig_p', 'id.resp_h', 'id.resp_p', 'proto', 'orig_bytes'];
    const swapped = ['ts', 'uid', 'id.resp_h', 'id.resp_p', 'id.orig_h', 'id.orig_p', 'proto', 'orig_bytes'];
    const lines: string[] = [];
    for (const [order, count] of [
      [fields, 200],
      [swapped, 700],
      [fields, 300],
    ] as const) {
      lines.push('#separator \\x09', '#path\tconn', `#fields\t${order.join('\t')}`);
      for (let i = 0; i < count; i++) {
        const values: Record<string, string> = {
          ts: `${1_700_000_000 + i}.5`,
          uid: `C${i}`,
          'id.orig_h': `10.1.0.${i % 7}`,
          'id.orig_p': String(40000 + i),
          'id.resp_h': i % 3 ? '13.73.248.9' : '52.123.1.10',
          'id.resp_p': '443',
          proto: 'tcp',
          orig_bytes: String(i),
        };
        lines.push(order.map((field) => values[field]).join('\t'));
      }
    }
    writeFileSync(zeek, `${lines.join('\n')}\n`);
    const report = JSON.parse(await compare({ inputs: [zeek] }));
    expect(report.flows).toBe(1200);
  });

  // Found by review: the range reader took any line starting with `#separator` for a new section
  // (the parser only takes `#separator ` with its space), and missed a first line behind a
  // byte-order mark; each made later ranges be read again without the `|` separator, or without
  // #fields at all, and lose their flows. Blocks that differ only in `#open` read alike.
  test('same report with a byte-order mark, another separator, a bare #separator line and concatenated blocks', async () => {
    const zeek = join(dir, 'odd-headers.log');
    const fields = ['ts', 'uid', 'id.orig_h', 'id.orig_p', 'id.resp_h', 'id.resp_p', 'proto', 'orig_bytes'];
    const record = (i: number) =>
      [
        `${1_700_000_000 + i}.5`,
        `C${i}`,
        `10.1.0.${i % 7}`,
        40000 + i,
        i % 3 ? '13.73.248.9' : '52.123.1.10',
        443,
        'tcp',
        i,
      ].join('|');
    const block = (opened: string, from: number, count: number, bare: boolean) => [
      '#separator \\x7c',
      '#set_separator|,',
      '#empty_field|(empty)',
      '#unset_field|-',
      '#path|conn',
      `#open|${opened}`,
      `#fields|${fields.join('|')}`,
      '#types|time|string|addr|port|addr|port|enum|count',
      ...Array.from({ length: count }, (_, k) => record(from + k)),
      ...(bare ? ['#separator', ...Array.from({ length: count }, (_, k) => record(from + count + k))] : []),
      `#close|${opened}`,
    ];
    const lines = [
      ...block('2026-12-06-00-00-00', 0, 300, true),
      ...block('2026-12-06-01-00-00', 600, 400, false),
    ];
    writeFileSync(zeek, `\ufeff${lines.join('\n')}\n`);
    const report = JSON.parse(await compare({ inputs: [zeek] }));
    expect(report.flows).toBe(1000);
    // Cut late, the log is read in as many parts as threads (not all on this thread).
    for (const jobs of [2, 3]) {
      let starts: number[] = [];
      const parts = (seen: number[]) => {
        starts = seen;
      };
      await runJobs({
        inputs: [zeek],
        policy: builtinPolicy(),
        jobs,
        threadBytes: 1,
        lateSplit: { ...late, parts },
      });
      expect(starts).toHaveLength(jobs);
      expect(starts[0]).toBe(0);
      expect(starts).toEqual([...starts].sort((a, b) => a - b));
    }
  });

  // A single large input is read on this thread from its start; a worker gets the end of what is
  // left once it is ready, less its warm-up, and nothing when that is too little (no waiting).
  test('a late cut gives a worker nothing when too little is left', async () => {
    const squid = join(dir, 'late.log');
    const lines: string[] = [];
    for (let i = 0; i < 3000; i++)
      lines.push(
        `${1_700_000_000 + i}.000 10 10.1.0.${i % 9} TCP_TUNNEL/200 ${i} CONNECT api${i % 40}.powerbi.com:443 - HIER_DIRECT/93.184.216.34 -`,
      );
    writeFileSync(squid, `${lines.join('\n')}\n`);
    const one = await jsonOf({ inputs: [squid], jobs: 1 });
    let starts: number[] = [];
    const parts = (seen: number[]) => {
      starts = seen;
    };
    const options = { inputs: [squid], jobs: 2, threadBytes: 1 };
    // Warm-up larger than the file: this thread reads it all.
    expect(await jsonOf({ ...options, lateSplit: { ...late, warmupBytes: 1 << 30, parts } })).toBe(one);
    expect(starts).toEqual([0]);
    // Without the seam's wait, a small file is read before the worker has loaded its modules.
    expect(await jsonOf({ ...options, lateSplit: { parts } })).toBe(one);
    expect(starts).toEqual([0]);
    expect(await jsonOf({ ...options, lateSplit: { ...late, parts } })).toBe(one);
    expect(starts).toHaveLength(2);
  });

  // --jobs that gave no worker a share read on one thread like PW_JOBS_SMALL_INPUT does: the user
  // is told why, once, and the report is this thread's (no rerun).
  test('a late cut that gives no worker a share says so once, without a rerun', async () => {
    const squid = squidLog('late-alone.log', 500);
    const one = await jsonOf({ inputs: [squid], jobs: 1 });
    const notesOf = async (lateSplit: AuditOptions['lateSplit'], jobs = 2) => {
      const notes: JobsFallback[] = [];
      const json = await jsonOf({
        inputs: [squid],
        jobs,
        threadBytes: 1,
        lateSplit,
        onJobsFallback: (note) => void notes.push(note),
      });
      expect(json).toBe(one);
      return notes;
    };
    const alone = await notesOf({ ...late, warmupBytes: 1 << 30 });
    expect(alone.map(({ code, rerun }) => [code, rerun])).toEqual([['PW_JOBS_NO_SHARE', false]]);
    expect(alone[0]?.reason).toBe(`no worker thread was ready in time for a share of ${squid} (1 too late)`);
    expect(await notesOf({ ...late, warmupBytes: 1 << 30 }, 3)).toEqual([
      expect.objectContaining({
        code: 'PW_JOBS_NO_SHARE',
        reason: `no worker thread was ready in time for a share of ${squid} (2 too late)`,
      }),
    ]);
    // A worker that took a share: nothing to say.
    expect(await notesOf(late)).toEqual([]);
  }, 60_000);

  // A worker that stops without an 'error' event (process.exit in it, a crash that only emits
  // 'exit') once left the audit waiting forever; then it failed the audit (PW_ERR_INTERNAL) while
  // this thread read on to the end of its range. Now it is a failure like an error: this thread
  // stops reading, and the audit runs again on one thread, with the one-job report.
  test("a worker that exits without a result stops this thread's read and the audit runs on one thread", async () => {
    const squid = squidLog('exit.log', 4000);
    const base = { inputs: [squid], jobs: 2, threadBytes: 1, workerExit: true };
    // Ranges cut up front (runWorkers), and the log cut late (splitLate).
    const ranges = { splitBytes: 1, rangeSplit: { chunkBytes: 64, waitForWorkers: true } };
    const cutLate = { lateSplit: late };
    for (const [name, cut] of [
      ['up front', ranges],
      ['late', cutLate],
    ] as const) {
      let stopped: (read: [number, number]) => void = () => undefined;
      const mine = new Promise<[number, number]>((resolve) => {
        stopped = resolve;
      });
      const seams = 'rangeSplit' in cut ? cut.rangeSplit : cut.lateSplit;
      const watched = { ...seams, mine: (read: number, range: number) => stopped([read, range]) };
      const result = await runJobs({
        ...base,
        ...('rangeSplit' in cut ? { ...cut, rangeSplit: watched } : { lateSplit: watched }),
        policy: builtinPolicy(),
        topology: reportTopology,
      });
      expect(result, name).toBeUndefined();
      const [read, range] = await mine;
      expect(range, name).toBeGreaterThan(0);
      expect(read, name).toBeLessThan(range);
    }
    const one = await jsonOf({ inputs: [squid], jobs: 1 });
    expect(JSON.parse(one).flows).toBe(4000);
    expect(await jsonOf({ ...base, ...ranges })).toBe(one);
    expect(await jsonOf({ ...base, ...cutLate })).toBe(one);
  }, 60_000);

  // The seam that holds the workers' first items until this thread reads once must not hold them
  // for ever when this thread's item is a whole input (no part: no reader of a range is opened).
  test('rangeSplit.waitForWorkers with whole inputs still ends, with the one-job report', async () => {
    const inputs = [squidLog('whole-a.log', 500), squidLog('whole-b.log', 500)];
    const waiting = jsonOf({ inputs, jobs: 2, threadBytes: 1, rangeSplit: { waitForWorkers: true } });
    const hung = new Promise<string>((resolve) => setTimeout(() => resolve('hung'), 30_000).unref());
    expect(await Promise.race([waiting, hung])).toBe(await jsonOf({ inputs, jobs: 1 }));
  }, 60_000);

  /** A Squid log of `count` lines to 40 hosts (about 110 bytes a line). */
  function squidLog(file: string, count: number): string {
    const lines: string[] = [];
    for (let i = 0; i < count; i++)
      lines.push(
        `${1_700_000_000 + i}.000 10 10.1.0.${i % 9} TCP_TUNNEL/200 ${i} CONNECT api${i % 40}.powerbi.com:443 - HIER_DIRECT/93.184.216.34 -`,
      );
    const path = join(dir, file);
    writeFileSync(path, `${lines.join('\n')}\n`);
    return path;
  }

  /** A progress bar that keeps what it showed when it was stopped, and at `sample()`. */
  function recordingProgress() {
    let state: ProgressState | undefined;
    const shown = (): { file: string; bytes: number; flows: number; total: number | null } | undefined =>
      state && { file: state.file, bytes: state.bytesRead(), flows: state.flows(), total: state.total };
    const record = {
      stopped: [] as ReturnType<typeof shown>[],
      sampled: [] as ReturnType<typeof shown>[],
      sample: () => record.sampled.push(shown()),
      progress: {
        update: (next) => {
          state = next;
        },
        stop: () => {
          record.stopped.push(shown());
          state = undefined;
        },
      } satisfies AuditProgress,
    };
    return record;
  }

  // The bar of a late cut once named every thread started (a worker given no share too), counted
  // no flow until a part was done, and was stopped before its last frame (short of 100 %).
  test('the progress bar names the threads that read, counts their bytes and flows, and ends at 100 %', async () => {
    const squid = squidLog('progress.log', 3000);
    const size = statSync(squid).size;
    const one = JSON.parse(await jsonOf({ inputs: [squid], jobs: 1 }));
    expect(one.flows).toBe(3000);
    // No share for the worker (its warm-up is larger than the file): this thread reads it all.
    const alone = recordingProgress();
    const report = await jsonOf({
      inputs: [squid],
      jobs: 2,
      threadBytes: 1,
      progress: alone.progress,
      lateSplit: { ...late, warmupBytes: 1 << 30, mine: alone.sample },
    });
    expect(JSON.parse(report).flows).toBe(3000);
    // While this thread read, the bar counted its flows and bytes.
    expect(alone.sampled[0]?.flows).toBeGreaterThan(0);
    expect(alone.sampled[0]?.bytes).toBeGreaterThan(0);
    expect(alone.stopped).toEqual([{ file: squid, bytes: size, flows: 3000, total: size }]);
    // A worker given the end of the file: two threads read, and the bar ends at the file's size.
    const two = recordingProgress();
    let starts: number[] = [];
    await jsonOf({
      inputs: [squid],
      jobs: 2,
      threadBytes: 1,
      progress: two.progress,
      lateSplit: {
        ...late,
        parts: (seen) => {
          starts = seen;
        },
      },
    });
    expect(starts).toHaveLength(2);
    expect(two.stopped).toEqual([{ file: `${squid} on 2 threads`, bytes: size, flows: 3000, total: size }]);
    // Cut in ranges up front (runWorkers): the same totals.
    const ranges = recordingProgress();
    await jsonOf({ inputs: [squid], jobs: 2, threadBytes: 1, splitBytes: 1, progress: ranges.progress });
    expect(ranges.stopped).toEqual([{ file: '2 parts on 2 threads', bytes: size, flows: 3000, total: size }]);
    // Two inputs in four ranges on two threads: the label counts threads, not parts.
    const copy = squidLog('progress-copy.log', 3000);
    const four = recordingProgress();
    await jsonOf({ inputs: [squid, copy], jobs: 2, threadBytes: 1, splitBytes: 1, progress: four.progress });
    expect(four.stopped).toEqual([
      { file: '4 parts on 2 threads', bytes: 2 * size, flows: 6000, total: 2 * size },
    ]);
  }, 60_000);

  // When a worker failed, the audit ran again on one thread while this thread's own range went on
  // being read, sharing the event loop (and a core) with the rerun.
  test("a worker that fails stops this thread's read before the audit runs on one thread", async () => {
    const squid = squidLog('fail.log', 4000);
    let stopped: (read: [number, number]) => void = () => undefined;
    const mine = new Promise<[number, number]>((resolve) => {
      stopped = resolve;
    });
    const result = await runJobs({
      inputs: [squid],
      policy: builtinPolicy(),
      topology: reportTopology,
      jobs: 2,
      threadBytes: 1,
      lateSplit: { ...late, mine: (read, range) => stopped([read, range]) },
      workerFail: true,
    });
    expect(result).toBeUndefined();
    const [read, range] = await mine;
    expect(range).toBeGreaterThan(0);
    expect(read).toBeLessThan(range);
    // And the audit, run through runAudit, gives the one-job report.
    const one = await jsonOf({ inputs: [squid], jobs: 1 });
    expect(
      await jsonOf({ inputs: [squid], jobs: 2, threadBytes: 1, lateSplit: late, workerFail: true }),
    ).toBe(one);
  }, 60_000);

  // The same when the ranges are cut up front (runWorkers, several inputs or a --split size): the
  // cancel of this thread's read there was covered by no test (deleting it kept the suite green).
  test("a worker that fails stops this thread's read of its range cut up front, before the one-job audit", async () => {
    const squid = squidLog('fail-ranges.log', 4000);
    // 64-byte reads, after the worker is ready: its error comes while this thread is still reading.
    const seams = { chunkBytes: 64, waitForWorkers: true };
    let stopped: (read: [number, number]) => void = () => undefined;
    const mine = new Promise<[number, number]>((resolve) => {
      stopped = resolve;
    });
    const options = { inputs: [squid], jobs: 2, threadBytes: 1, splitBytes: 1, workerFail: true };
    const result = await runJobs({
      ...options,
      policy: builtinPolicy(),
      topology: reportTopology,
      rangeSplit: { ...seams, mine: (read, range) => stopped([read, range]) },
    });
    expect(result).toBeUndefined();
    const [read, range] = await mine;
    expect(range).toBeGreaterThan(0);
    expect(read).toBeLessThan(range);
    const one = await jsonOf({ inputs: [squid], jobs: 1 });
    expect(await jsonOf({ ...options, rangeSplit: seams })).toBe(one);
  }, 60_000);

  // A multi-job audit whose workers failed (an error, an exit while holding a part) or whose parts
  // could not be merged ran again on one thread and said so only in a PATHWARDEN_JOBS_TRACE mark:
  // the user saw `--jobs 2` take longer than one job and no reason. Now each fallback is reported
  // once through onJobsFallback (the CLI's warning), with a stable code, and the report is still
  // the one-job report.
  test('a multi-job read that fails says why, once, and the report is the one-job report', async () => {
    const squid = squidLog('told.log', 4000);
    const one = await jsonOf({ inputs: [squid], jobs: 1 });
    const ranges = { splitBytes: 1, rangeSplit: { chunkBytes: 64, waitForWorkers: true } };
    const cutLate = { lateSplit: late };
    const cases = [
      ['exit, up front', { workerExit: true, ...ranges }, 'PW_JOBS_WORKER_EXITED', /code 3/],
      ['exit, late', { workerExit: true, ...cutLate }, 'PW_JOBS_WORKER_EXITED', /code 3/],
      ['error, up front', { workerFail: true, ...ranges }, 'PW_JOBS_WORKER_FAILED', /workerFail/],
      ['error, late', { workerFail: true, ...cutLate }, 'PW_JOBS_WORKER_FAILED', /workerFail/],
      // 40 hosts, 5 tracked destinations: the parts' tables cannot be merged exactly.
      [
        'overflow, up front',
        { limits: { destinations: 5 }, ...ranges },
        'PW_JOBS_NOT_MERGEABLE',
        /destinations/,
      ],
      [
        'overflow, late',
        { limits: { destinations: 5 }, ...cutLate },
        'PW_JOBS_NOT_MERGEABLE',
        /destinations/,
      ],
    ] as const;
    for (const [name, options, code, reason] of cases) {
      const notes: JobsFallback[] = [];
      const report = await jsonOf({
        inputs: [squid],
        jobs: 2,
        threadBytes: 1,
        ...options,
        onJobsFallback: (note) => {
          notes.push(note);
        },
      });
      expect(notes, name).toHaveLength(1);
      expect(notes[0]?.code, name).toBe(code);
      expect(notes[0]?.rerun, name).toBe(true);
      expect(notes[0]?.reason, name).toMatch(reason);
      expect(notes[0]?.reason, name).not.toContain('\n');
      if ('limits' in options)
        expect(report, name).toBe(await jsonOf({ inputs: [squid], jobs: 1, ...options }));
      else expect(report, name).toBe(one);
    }
  }, 120_000);

  test('an audit that stays on one thread says why once; one that uses its threads says nothing', async () => {
    const squid = squidLog('declined.log', 500);
    const notesOf = async (options: Omit<Partial<AuditOptions>, 'inputs'>) => {
      const notes: JobsFallback[] = [];
      await jsonOf({ jobs: 2, ...options, inputs: [squid], onJobsFallback: (note) => void notes.push(note) });
      return notes;
    };
    // Under 2 x THREAD_BYTES of input.
    const small = await notesOf({});
    expect(small.map(({ code, rerun }) => [code, rerun])).toEqual([['PW_JOBS_SMALL_INPUT', false]]);
    expect(small[0]?.reason).toMatch(/^\d+(\.\d)? KiB of input; a second thread starts from 512 MiB$/);
    // Per-flow outputs need the flows in order.
    const sink: FlowSink = { write: () => undefined, close: async () => undefined };
    const ordered = await notesOf({ threadBytes: 1, sinks: [sink] });
    expect(ordered.map(({ code }) => code)).toEqual(['PW_JOBS_IN_ORDER']);
    expect(await notesOf({ threadBytes: 1, strict: true })).toHaveLength(1);
    // --jobs 1: nothing was asked, nothing to say.
    expect(await notesOf({ jobs: 1, threadBytes: 1 })).toEqual([]);
    // Read on two threads (late and up front): no note.
    expect(await notesOf({ threadBytes: 1, lateSplit: late })).toEqual([]);
    expect(await notesOf({ threadBytes: 1, splitBytes: 1 })).toEqual([]);
  }, 60_000);

  test('the thread count says when the load, not the input size, keeps an audit on one thread', () => {
    const GiB = 1 << 30;
    expect(threadsFor(4, 2 * GiB, undefined, 3)).toEqual({ threads: 4 });
    expect(threadsFor(4, 2 * GiB, undefined, 1)).toEqual({ threads: 2 });
    const busy = threadsFor(4, 2 * GiB, undefined, 0, 2);
    expect(busy.threads).toBe(1);
    expect(busy.fallback?.code).toBe('PW_JOBS_NO_IDLE_CORE');
    expect(busy.fallback?.reason).toBe(
      'the load average leaves 0 of 2 cores idle, and this thread takes one',
    );
    const small = threadsFor(4, 300 << 20, undefined, 0, 2);
    expect(small.fallback?.code).toBe('PW_JOBS_SMALL_INPUT');
    expect(small.fallback?.reason).toBe('300 MiB of input; a second thread starts from 512 MiB');
    // A test's threadBytes leaves the load out.
    expect(threadsFor(2, 10, 1, 0)).toEqual({ threads: 2 });
  });
});
