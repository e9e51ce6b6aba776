import { PassThrough } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { ProgressBar, renderProgress } from './progress.js';
import type { ProgressState } from './run-audit.js';

const state = (read: number, total: number | null): ProgressState => ({
  step: 2,
  steps: 5,
  file: 'logs/squid/access.log',
  total,
  bytesRead: () => read,
  flows: () => 1_234_567,
});

describe('progress bar', () => {
  test('shows the step, bytes read of the file size, the file and the flows so far', () => {
    expect(renderProgress(state(610_000_000, 1_000_000_000), 100)).toBe(
      '[2/5] ############--------  61% 610 MB / 1.00 GB  logs/squid/access.log  1,234,567 flows',
    );
  });

  test('without a size (stdin) shows bytes only; long names are shortened from the left', () => {
    expect(renderProgress(state(5_000, null), 100)).toBe(
      '[2/5] 5.00 kB  logs/squid/access.log  1,234,567 flows',
    );
    const line = renderProgress({ ...state(1, 10), file: `${'deep/'.repeat(30)}access.log` }, 80);
    expect(line.length).toBeLessThanOrEqual(79);
    expect(line).toContain('…');
  });

  test('redraws on a timer and clears its line when stopped', async () => {
    const stream = new PassThrough();
    let text = '';
    stream.on('data', (chunk) => {
      text += String(chunk);
    });
    const bar = new ProgressBar(stream, 5);
    bar.update(state(1, 2));
    await new Promise((resolve) => setTimeout(resolve, 30));
    bar.stop();
    expect(text).toContain('\r[2/5] ##########----------  50% 1 B / 2 B');
    expect(text.endsWith('\r\u001b[K')).toBe(true);
  });
});
