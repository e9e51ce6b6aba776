// A reader that stops early (`pathwarden catalog list | head -1`) closes the pipe under the command:
// the command stops quietly with 141 (128 + SIGPIPE, what the C tools report), no stack trace.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { packageRoot } from '../catalog/builtin.js';
import { needPeers } from '../testing/peers.js';

const ready = needPeers('build');

/** Runs the built CLI with its stdout pipe closed before it writes anything. */
function runIntoClosedPipe(argv: string[]): Promise<{ code: number | null; stderr: string }> {
  const main = join(packageRoot(), 'dist', 'src', 'cli', 'main.js');
  const child = spawn(process.execPath, [main, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  // Node takes tens of milliseconds to start, so the read end is gone before the first write.
  child.stdout.destroy();
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stderr })));
}

describe.skipIf(!ready)('a closed stdout', () => {
  test.each([
    ['help (commander writes it)', ['generate', '--help']],
    ['a command that writes through its own stream', ['catalog', 'list']],
    ['explain', ['explain', 'app.powerbi.com']],
  ])('%s ends with 141 and nothing on stderr', async (_name, argv) => {
    const { code, stderr } = await runIntoClosedPipe(argv);
    expect(stderr).toBe('');
    expect(code).toBe(141);
  });
});
