// Reading a regular file, or a byte range of it, without a stream: one buffer is read into again and
// again, so a 1 GB log costs no allocation per read (a ReadStream allocates a fresh 1 MiB buffer
// per read, and the page faults of that memory cost more CPU than reading it). For consumers that
// finish with each chunk before they ask for the next: readChunks() (line-reader.ts) copies what
// it keeps, and the Squid and Zeek parsers keep no view of a chunk.

import { open } from 'node:fs/promises';

export const FILE_CHUNK_BYTES = 1 << 20;

export class FileChunks implements AsyncIterable<Buffer> {
  /** Bytes read so far (for a progress bar). */
  bytesRead = 0;

  constructor(
    readonly path: string,
    /** Byte offset of the first byte read. */
    readonly start = 0,
    /** Byte offset after the last byte read (default: the end of the file). */
    readonly end = Number.POSITIVE_INFINITY,
    /** Whole lines read before the range (the header lines a range needs, e.g. Zeek's #fields). */
    readonly prelude: Uint8Array | null = null,
    readonly chunkBytes = FILE_CHUNK_BYTES,
  ) {}

  /** Each chunk is a view of the same buffer: valid until the next one is asked for. */
  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer, void, undefined> {
    const handle = await open(this.path, 'r');
    try {
      const prelude = this.prelude;
      // A Buffer sent to a worker thread arrives as a plain Uint8Array: made a Buffer again.
      if (prelude !== null && prelude.length > 0)
        yield Buffer.from(prelude.buffer, prelude.byteOffset, prelude.length);
      const buffer = Buffer.allocUnsafeSlow(this.chunkBytes);
      let position = this.start;
      while (position < this.end) {
        const want = Math.min(this.chunkBytes, this.end - position);
        const { bytesRead } = await handle.read(buffer, 0, want, position);
        if (bytesRead === 0) break;
        position += bytesRead;
        this.bytesRead += bytesRead;
        yield buffer.subarray(0, bytesRead);
      }
    } finally {
      await handle.close();
    }
  }
}
