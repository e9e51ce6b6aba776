// One file of the demo data set: its bytes, and what the audit must make of each of its records.
import type { Expected } from './network.js';

export interface ExpectedRecord extends Expected {
  /** Line, entry or packet number the audit reports for the record (its `file:line`). */
  line: number;
}

export interface DemoFile {
  /** Path under demo/logs/, with `/` separators. */
  path: string;
  content: Buffer;
  /** Format name as `--format` spells it, and a one-line description for the README. */
  format: string;
  description: string;
  expected: ExpectedRecord[];
}

/** A text file built line by line; each line may carry the expectations of the flows it holds. */
export class TextFile {
  readonly lines: string[] = [];
  readonly expected: ExpectedRecord[] = [];

  /** Appends a line; returns its 1-based number. */
  add(text: string, ...expect: Expected[]): number {
    this.lines.push(text);
    const line = this.lines.length;
    for (const entry of expect) this.expected.push({ ...entry, line });
    return line;
  }

  toBuffer(): Buffer {
    return Buffer.from(`${this.lines.join('\n')}\n`, 'utf8');
  }
}

/** Events built in any order and written in time order (logs are written as things happen). */
export interface Timed {
  time: number;
  write(file: TextFile): void;
}

export function writeInTimeOrder(file: TextFile, events: Timed[]): void {
  events
    .map((event, index) => ({ event, index }))
    .sort((a, b) => a.event.time - b.event.time || a.index - b.index)
    .forEach(({ event }) => {
      event.write(file);
    });
}
