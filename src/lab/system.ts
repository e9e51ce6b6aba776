// Runs the lab's system commands (ip, tcpdump, dnsmasq, squid, curl, node) and keeps track of
// every long-running process it starts, so that teardown can stop each one by its own pid.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PathwardenError } from '../errors.js';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; never throws on a non-zero exit (the caller decides). */
export function runCommand(
  file: string,
  args: readonly string[],
  options: { timeoutMs?: number; input?: string } = {},
): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = execFile(
      file,
      args,
      { timeout: options.timeoutMs ?? 30_000, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr: stderr || (error && code !== 0 ? String(error.message) : '') });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** Runs a command and throws PW_ERR_LAB_SETUP naming it when it fails. */
export async function mustRun(file: string, args: readonly string[], timeoutMs?: number): Promise<string> {
  const result = await runCommand(file, args, { timeoutMs });
  if (result.code !== 0) {
    throw new PathwardenError(
      'PW_ERR_LAB_SETUP',
      `lab setup failed: ${file} ${args.join(' ')}: ${result.stderr.trim() || `exit ${result.code}`}`,
    );
  }
  return result.stdout;
}

/** `ip netns exec NS file args...` */
export const inNs = (ns: string, file: string, args: readonly string[]): [string, string[]] => [
  'ip',
  ['netns', 'exec', ns, file, ...args],
];

export const runInNs = (ns: string, file: string, args: readonly string[], timeoutMs?: number) =>
  runCommand(...inNs(ns, file, args), { timeoutMs });

export const mustRunInNs = (ns: string, file: string, args: readonly string[], timeoutMs?: number) =>
  mustRun(...inNs(ns, file, args), timeoutMs);

export interface LabProcess {
  name: string;
  child: ChildProcess;
  /** Its standard output and error (the end of its log file), for error messages. */
  output(): string;
  exited: Promise<number | null>;
}

/**
 * Long-running processes of one lab, stopped in reverse order of start. Each runs in its own
 * process group (a terminal's Ctrl-C reaches only the lab, which tears down in order) and writes
 * to a log file in the lab folder, so that with --keep it outlives the command that started it.
 */
export class ProcessGroup {
  readonly #processes: LabProcess[] = [];

  constructor(readonly logDir: string) {}

  /** Starts `file args` inside a namespace; resolves once `ready` (if given) matches its output. */
  async start(
    name: string,
    ns: string,
    file: string,
    args: readonly string[],
    ready?: { pattern: RegExp; timeoutMs: number },
  ): Promise<LabProcess> {
    const logFile = join(this.logDir, `${name.replace(/[^a-z0-9]+/gi, '-')}.log`);
    const fd = openSync(logFile, 'a');
    const child = spawn('ip', ['netns', 'exec', ns, file, ...args], {
      stdio: ['ignore', fd, fd],
      detached: true,
    });
    closeSync(fd);
    child.unref();
    const output = () => {
      try {
        return readFileSync(logFile, 'utf8').slice(-16_384);
      } catch {
        return '';
      }
    };
    const exited = new Promise<number | null>((resolve) => {
      child.once('exit', (code, signal) => resolve(code ?? (signal ? -1 : null)));
      child.once('error', () => resolve(-1));
    });
    const process: LabProcess = { name, child, output, exited };
    this.#processes.push(process);
    if (ready) {
      const deadline = Date.now() + ready.timeoutMs;
      let code: number | null | undefined;
      void exited.then((value) => {
        code = value;
      });
      while (!ready.pattern.test(output())) {
        if (code !== undefined)
          throw new PathwardenError(
            'PW_ERR_LAB_SETUP',
            `${name} exited (${code}) before it was ready: ${output().trim()}`,
          );
        if (Date.now() > deadline)
          throw new PathwardenError(
            'PW_ERR_LAB_SETUP',
            `${name} was not ready after ${ready.timeoutMs} ms: ${output().trim()}`,
          );
        await sleep(25);
      }
    }
    return process;
  }

  /** Stops one process: SIGTERM (or `signal`), then SIGKILL after `graceMs`. */
  async stop(process: LabProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 3000): Promise<void> {
    const index = this.#processes.indexOf(process);
    if (index >= 0) this.#processes.splice(index, 1);
    if (process.child.exitCode !== null || process.child.signalCode !== null) return;
    // `ip netns exec` execs the program, so the child's pid is the program's own pid.
    process.child.kill(signal);
    const timer = setTimeout(() => process.child.kill('SIGKILL'), graceMs);
    await process.exited;
    clearTimeout(timer);
  }

  async stopAll(): Promise<void> {
    for (const process of [...this.#processes].reverse()) await this.stop(process);
  }

  /** Synchronous last resort (process exit): SIGKILL everything still running. */
  killAllNow(): void {
    for (const process of this.#processes) if (process.child.exitCode === null) process.child.kill('SIGKILL');
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it returns true or `timeoutMs` passes; returns whether it succeeded. */
export async function waitFor(
  probe: () => Promise<boolean>,
  timeoutMs: number,
  stepMs = 50,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return true;
    if (Date.now() > deadline) return false;
    await sleep(stepMs);
  }
}
