// The built CLI's gateway for process-level tests (SIGTERM, descriptor limits, startup errors): a
// loopback config file (egress 127.0.0.2 / 127.0.0.3, admin on a free port, a JSONL store in the
// test's folder) and a child process whose proxy and admin ports are read from its start line.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../catalog/load.js';

/** dist/src/cli/main.js, or PW_TEST_CLI (to measure another build, e.g. main's, for a before/after). */
export const cliPath = process.env.PW_TEST_CLI ?? join(packageRoot(), 'dist', 'src', 'cli', 'main.js');

/**
 * Writes `dir/name`: `listen` and the admin address on loopback, the two loopback egresses, a JSONL
 * store and a log file in `dir`, then `lines` (later keys of the same name are a YAML error: pass
 * only keys not set here, or set `listen` / `admin` / `store` / `log` through `base`).
 */
export function writeGatewayConfig(
  dir: string,
  name: string,
  lines: string[],
  base: { listen?: string; admin?: string; store?: string; log?: string } = {},
): string {
  const file = join(dir, name);
  writeFileSync(
    file,
    [
      `listen: ${base.listen ?? '127.0.0.1:0'}`,
      `admin: ${base.admin ?? '127.0.0.1:0'}`,
      'egress:',
      '  expressroute: { localAddress: 127.0.0.2 }',
      '  internet: { localAddress: 127.0.0.3 }',
      `store: ${base.store ?? `{ kind: jsonl, path: ${join(dir, `${name}.jsonl`)} }`}`,
      `log: ${base.log ?? `{ level: info, file: ${join(dir, `${name}.log`)} }`}`,
      ...lines,
      '',
    ].join('\n'),
  );
  return file;
}

export interface CliGateway {
  child: ChildProcess;
  proxyPort: number;
  adminPort: number;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
  stderr(): string;
}

/** Runs `[...prefix] node cli gateway --config file` and waits (15 s at most) for its start line. */
export async function startCliGateway(file: string, prefix: string[] = []): Promise<CliGateway> {
  const command = [...prefix, process.execPath, cliPath, 'gateway', '--config', file];
  const child = spawn(command[0] as string, command.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const started = /proxy on [\d.]+:(\d+).*, admin on [\d.]+:(\d+)/;
  const deadline = Date.now() + 15_000;
  for (;;) {
    const match = started.exec(stderr);
    if (match) {
      return {
        child,
        proxyPort: Number(match[1]),
        adminPort: Number(match[2]),
        exited,
        stderr: () => stderr,
      };
    }
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`gateway did not start: ${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Runs the CLI once to its end (20 s at most): exit code (null when killed), stdout, stderr. */
export function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cliPath, ...args], { timeout: 20_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
