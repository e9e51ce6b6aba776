// Why an `audit --jobs N` read on one thread: a stable code per reason (callers branch on the code,
// never on the text) and the one-line warning the CLI prints. A multi-job audit that ends on one
// thread gives the one-job report, so nothing but this note tells the user why `--jobs` did not
// help, or why it took longer than one job (a rerun reads every input again). docs/audit.md lists
// every code (a test keeps the two in step).
export const jobsFallbackCodes = {
  PW_JOBS_SMALL_INPUT: {
    rerun: false,
    summary: 'The inputs are too small to pay for a second thread (one thread per 256 MiB of input).',
  },
  PW_JOBS_NO_IDLE_CORE: {
    rerun: false,
    summary:
      'The load average of the last minute leaves no core idle for a worker (PATHWARDEN_JOBS_IGNORE_LOAD=1 counts every core as idle).',
  },
  PW_JOBS_IN_ORDER: {
    rerun: false,
    summary:
      'The inputs must be read in order on one thread: --ndjson, --csv, --store, --strict, stdin, DNS logs or Zeek ssl/http logs among the inputs.',
  },
  PW_JOBS_UNCUTTABLE: {
    rerun: false,
    summary: 'The single input cannot be cut: the header block at its top is longer than 64 KiB.',
  },
  PW_JOBS_UNAVAILABLE: {
    rerun: false,
    summary:
      'No worker script is built (dist/src/audit/audit-worker.js), or the format is not a built-in one.',
  },
  PW_JOBS_NO_SHARE: {
    rerun: false,
    summary:
      'The single input was cut late and no worker thread was ready in time for a share of what was left (or each failed or ended before it was ready): this thread read it all.',
  },
  PW_JOBS_WORKER_FAILED: {
    rerun: true,
    summary: "A worker thread's read failed with an error (the message says which input and why).",
  },
  PW_JOBS_WORKER_EXITED: {
    rerun: true,
    summary:
      'A worker thread ended before it returned the counts of the part it held (process.exit in it, a crash that only ends the thread).',
  },
  PW_JOBS_READ_FAILED: {
    rerun: true,
    summary: "The main thread's own read of its part failed with an error.",
  },
  PW_JOBS_NOT_MERGEABLE: {
    rerun: true,
    summary:
      'The parts were read but cannot be merged into the one-job report exactly: DNS answers inside an input (a capture), more distinct destinations than the report tracks, or too many Zeek header lines in a range.',
  },
} as const;

export type JobsFallbackCode = keyof typeof jobsFallbackCodes;

/** Why an audit with `jobs` above 1 read on one thread. */
export interface JobsFallback {
  code: JobsFallbackCode;
  /** What happened, in a few words (the input, the worker's message, the sizes). */
  reason: string;
  /**
   * True when threads had read (part of) the inputs and their counts were thrown away: the report
   * comes from a one-job read of every input that followed. False when the audit stayed on one
   * thread from the start.
   */
  rerun: boolean;
}

export function jobsFallback(code: JobsFallbackCode, reason: string): JobsFallback {
  return { code, reason: shortReason(reason), rerun: jobsFallbackCodes[code].rerun };
}

/** The first line of a message, at most 200 characters: a warning is one line. */
function shortReason(text: string): string {
  const line = text.split('\n', 1)[0] ?? '';
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}

/** The warning the CLI prints on stderr (without its `pathwarden: warning: ` prefix). */
export function jobsFallbackWarning(jobs: number, fallback: JobsFallback): string {
  const why = `${fallback.code}: ${fallback.reason}`;
  return fallback.rerun
    ? `--jobs ${jobs}: the multi-job read failed (${why}); the report comes from a one-job rerun of every input`
    : `--jobs ${jobs} not used, reading on one thread (${why})`;
}

/**
 * The reason an audit of `bytes` stays on one thread when `threadBytes` per thread and the idle
 * cores (jobs.ts, threadsFor) allow no second thread.
 */
export function oneThreadFallback(
  bytes: number,
  threadBytes: number,
  idle: number | undefined,
  cores: number,
): JobsFallback {
  if (idle === undefined || Math.floor(bytes / Math.max(1, threadBytes)) <= 1)
    return jobsFallback(
      'PW_JOBS_SMALL_INPUT',
      `${binaryBytes(bytes)} of input; a second thread starts from ${binaryBytes(2 * threadBytes)}`,
    );
  return jobsFallback(
    'PW_JOBS_NO_IDLE_CORE',
    `the load average leaves ${idle} of ${cores} cores idle, and this thread takes one`,
  );
}

/** `512 MiB`, `1.5 GiB`, `300 B`: the units docs/audit.md gives the thresholds in. */
function binaryBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const text = unit === 0 || Number.isInteger(value) ? String(value) : value.toFixed(1);
  return `${text} ${units[unit]}`;
}
