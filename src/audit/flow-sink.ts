// Per-flow outputs (--ndjson, --csv) receive each classified flow as it is classified, so their
// memory does not grow with the input. Text is gathered into blocks of about 64 KiB and written
// with back-pressure: the audit waits only when the destination is slower than the parser.
import type { Writable } from 'node:stream';
import type { FlowRecord } from '../flow/record.js';

export interface FlowSink {
  /** Takes one classified flow. Returns a promise only when the caller must wait (back-pressure). */
  write(flow: FlowRecord): Promise<void> | undefined;
  /** Flushes what is buffered. Does not end the stream (it may be stdout). */
  close(): Promise<void>;
}

const BLOCK = 65536;

/** A sink that turns each flow into text (`render`) and writes it in blocks. */
export class TextFlowSink implements FlowSink {
  #buffer = '';

  constructor(
    readonly stream: Writable,
    readonly render: (flow: FlowRecord) => string,
    header = '',
  ) {
    this.#buffer = header;
  }

  write(flow: FlowRecord): Promise<void> | undefined {
    this.#buffer += this.render(flow);
    if (this.#buffer.length < BLOCK) return undefined;
    const block = this.#buffer;
    this.#buffer = '';
    return writeText(this.stream, block);
  }

  async close(): Promise<void> {
    if (this.#buffer.length === 0) return;
    const block = this.#buffer;
    this.#buffer = '';
    await writeText(this.stream, block);
  }
}

/** Writes text and resolves when the stream can take more (immediately unless it is full). */
export function writeText(stream: Writable, text: string): Promise<void> | undefined {
  if (stream.write(text)) return undefined;
  return new Promise<void>((resolve, reject) => {
    const onDrain = () => {
      stream.off('error', onError);
      resolve();
    };
    const onError = (error: Error) => {
      stream.off('drain', onDrain);
      reject(error);
    };
    stream.once('drain', onDrain);
    stream.once('error', onError);
  });
}
