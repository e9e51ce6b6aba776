// A progress bar on stderr for long audits: input n of N, bytes read of the file's size, flows so
// far. It polls the audit's state on a timer (the hot loop never calls it) and redraws one line in
// place; it is off when stderr is not a terminal or with --quiet, so logs and pipes stay clean.
import type { Writable } from 'node:stream';
import { formatBytes, formatCount } from '../report/format.js';
import type { AuditProgress, ProgressState } from './run-audit.js';

const REDRAW_MS = 200;

export class ProgressBar implements AuditProgress {
  #state: ProgressState | undefined;
  #timer: NodeJS.Timeout | undefined;
  #drawn = false;

  constructor(
    readonly stream: Writable & { columns?: number },
    readonly interval = REDRAW_MS,
  ) {}

  update(state: ProgressState): void {
    this.#state = state;
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.draw(), this.interval);
      // A progress bar must never keep the process alive.
      this.#timer.unref();
    }
  }

  draw(): void {
    const state = this.#state;
    if (!state) return;
    this.stream.write(`\r${renderProgress(state, this.stream.columns ?? 80)}\u001b[K`);
    this.#drawn = true;
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#drawn) this.stream.write('\r\u001b[K');
    this.#drawn = false;
  }
}

/** One line: `[2/5] ######----- 61% 610 MB / 1.00 GB  access.log  1,234,567 flows`. */
export function renderProgress(state: ProgressState, columns: number): string {
  const read = state.bytesRead();
  const flows = `${formatCount(state.flows())} flows`;
  const step = `[${state.step}/${state.steps}]`;
  let bar = '';
  let amount = formatBytes(read);
  if (state.total !== null && state.total > 0) {
    const share = Math.min(1, read / state.total);
    const width = 20;
    const done = Math.round(share * width);
    bar = ` ${'#'.repeat(done)}${'-'.repeat(width - done)} ${String(Math.floor(share * 100)).padStart(3)}%`;
    amount = `${formatBytes(read)} / ${formatBytes(state.total)}`;
  }
  const fixed = `${step}${bar} ${amount}  `;
  const room = Math.max(8, columns - fixed.length - flows.length - 3);
  const file = state.file.length > room ? `…${state.file.slice(-(room - 1))}` : state.file;
  return `${fixed}${file}  ${flows}`.slice(0, Math.max(10, columns - 1));
}
