// Every command of the README's quick start and usage blocks, run as written. The usage block runs
// in a network namespace of its own (no network, its own 127.0.0.0/8, so the fixed ports 3128, 9180
// and 9181 cannot clash with anything on this machine) from a folder that links to this checkout,
// so the files it writes land in a temporary folder. Long-running commands (the gateway, the
// dashboard) are started, probed by the commands after them, and stopped. A trailing comment that
// quotes text ("...") must appear in the command's output.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { packageRoot } from '../catalog/load.js';
import { run, runOk } from '../generate/testing/processes.js';
import { needPeers } from '../testing/peers.js';

const root = packageRoot();
const readme = readFileSync(join(root, 'README.md'), 'utf8');

/** The shell commands of the sh blocks of one `## ` section: continuation lines joined, comment lines dropped. */
function commandsOf(section: string): string[] {
  const start = readme.indexOf(`\n## ${section}\n`);
  if (start < 0) throw new Error(`README has no "## ${section}" section`);
  const end = readme.indexOf('\n## ', start + 1);
  const text = readme.slice(start, end < 0 ? undefined : end);
  const commands: string[] = [];
  for (const block of text.matchAll(/```sh\n([\s\S]*?)```/g)) {
    const joined = (block[1] as string).replace(/\\\n\s*/g, '');
    for (const line of joined.split('\n')) {
      if (line.trim() === '' || line.trim().startsWith('#')) continue;
      commands.push(line.trim());
    }
  }
  return commands;
}

/** Text a trailing comment quotes: the output must contain it. */
function promised(command: string): string[] {
  const comment = command.match(/\s#\s(.*)$/)?.[1] ?? '';
  return [...comment.matchAll(/"([^"]+)"/g)].map((match) => match[1] as string);
}

const longRunning = (command: string) =>
  /pathwarden (gateway|dashboard)\b/.test(command) && !command.includes('--check');
/** The README says this one exits 1 on a leak, and the demo logs hold leaks. */
const expectedExit = (command: string) => (command.includes('--fail-on leak') ? 1 : 0);
/** Don't let npm look for updates from inside a namespace without network. */
const npmEnv = { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false' };

describe('README quick start', () => {
  const commands = commandsOf('Quick start');

  test('is exactly two commands: install and run the demo, install and pass the tests', () => {
    expect(commands.map((command) => command.replace(/\s+#.*$/, ''))).toEqual([
      'npm ci && npm run demo',
      'npm run test:all',
    ]);
    const scripts = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts;
    expect(scripts['test:all']).toBe('bash scripts/test.sh');
    expect(scripts.demo).toMatch(/audit --demo$/);
  });

  // `npm run test:all` runs this very suite, so here it runs only its first step (the Debian
  // packages); the suite passing is the rest of it. It must find everything installed now.
  test('npm run test:all: the test peers step finds every peer installed (idempotent)', async () => {
    needPeers('build');
    const result = await run('bash', [join(root, 'scripts', 'test.sh'), '--peers-only']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('every test peer is installed');
  });

  test('npm ci && npm run demo, as written, in a copy of the tracked files (npm cache, no other preparation)', async () => {
    const copy = mkdtempSync(join(tmpdir(), 'pw-readme-quick-'));
    try {
      const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' }).split('\0');
      for (const file of tracked.filter((name) => name !== '')) {
        mkdirSync(join(copy, dirname(file)), { recursive: true });
        try {
          cpSync(join(root, file), join(copy, file));
        } catch {
          // a tracked file deleted in the working tree is not part of what is tested
        }
      }
      const result = await run('sh', ['-c', commands[0] as string], undefined, {
        cwd: copy,
        env: { ...npmEnv, npm_config_prefer_offline: 'true' },
      });
      expect(result.code, result.stderr.slice(-2000)).toBe(0);
      expect(result.stdout).toContain('leak');
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  }, 600_000);
});

describe.skipIf(!needPeers('ip', 'root', 'curl', 'build'))('README usage, every command as written', () => {
  const namespace = `pw-readme-${randomBytes(4).toString('hex')}`;
  let work: string;
  const background: ChildProcess[] = [];

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'pw-readme-usage-'));
    for (const entry of ['package.json', 'node_modules', 'dist', 'catalog', 'examples', 'demo']) {
      symlinkSync(join(root, entry), join(work, entry));
    }
    await runOk('ip', ['netns', 'add', namespace]);
    await runOk('ip', ['-n', namespace, 'link', 'set', 'lo', 'up']);
  });

  afterAll(async () => {
    for (const child of background) {
      if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, 'SIGTERM');
    }
    await Promise.all(
      background.map((child) =>
        child.exitCode === null ? new Promise((done) => child.once('close', done)) : null,
      ),
    );
    await run('ip', ['netns', 'del', namespace]);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('runs them in order: each exits as documented and says what its comment promises', async () => {
    const commands = commandsOf('Usage');
    expect(commands.length).toBeGreaterThanOrEqual(20);
    const failures: string[] = [];
    for (const command of commands) {
      if (longRunning(command)) {
        const child = spawn('ip', ['netns', 'exec', namespace, 'sh', '-c', command], {
          cwd: work,
          env: npmEnv,
          detached: true,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        background.push(child);
        let output = '';
        child.stdout?.on('data', (chunk) => {
          output += chunk;
        });
        child.stderr?.on('data', (chunk) => {
          output += chunk;
        });
        const started = Date.now();
        while (!/127\.0\.0\.1:\d+/.test(output) && child.exitCode === null && Date.now() - started < 60_000) {
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
        if (child.exitCode !== null || !/127\.0\.0\.1:\d+/.test(output)) {
          failures.push(`${command}\n  did not start: ${output.slice(-500)}`);
        }
        // Let the demo's client trickle send its first requests.
        await new Promise((resolve) => setTimeout(resolve, 1500));
        continue;
      }
      const ran = await run('ip', ['netns', 'exec', namespace, 'sh', '-c', command], undefined, {
        cwd: work,
        env: npmEnv,
      });
      const result = { code: ran.code, out: ran.stdout + ran.stderr };
      if (result.code !== expectedExit(command)) {
        failures.push(
          `${command}\n  exit ${result.code}, expected ${expectedExit(command)}: ${result.out.slice(-800)}`,
        );
      }
      for (const text of promised(command)) {
        if (!result.out.includes(text))
          failures.push(`${command}\n  output lacks "${text}": ${result.out.slice(-500)}`);
      }
    }
    expect(failures).toEqual([]);
    // What the commands wrote, in the temporary folder (never in the checkout).
    for (const file of ['decisions.ndjson', 'report.html', 'junit.xml', 'proxy.pac', 'flows.ndjson']) {
      expect(readFileSync(join(work, file), 'utf8').length, file).toBeGreaterThan(0);
    }
    // The demo gateway recorded flows on both egresses, the trickle's and curl's.
    const flows = execFileSync(
      'ip',
      ['netns', 'exec', namespace, 'curl', '-sS', 'http://127.0.0.1:9180/api/stats'],
      {
        encoding: 'utf8',
      },
    );
    const stats = JSON.parse(flows) as { flows: number; byEgressPath: Record<string, { flows: number }> };
    expect(stats.flows).toBeGreaterThanOrEqual(3);
    expect(stats.byEgressPath.expressroute?.flows).toBeGreaterThan(0);
    expect(stats.byEgressPath.internet?.flows).toBeGreaterThan(0);
    // The read-only dashboard serves its page and the audit's flows.
    const page = execFileSync(
      'ip',
      ['netns', 'exec', namespace, 'curl', '-sS', '-w', '%{http_code}', 'http://127.0.0.1:9181/'],
      {
        encoding: 'utf8',
      },
    );
    expect(page.endsWith('200')).toBe(true);
  }, 600_000);
});
