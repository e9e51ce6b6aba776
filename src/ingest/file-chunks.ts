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
    /**
     * Byte offset after the last byte read (default: the end of the file). May be lowered while the
     * chunks are read (`audit --jobs` hands the rest of a range to a worker), to no less than the
     * end of the read in flight: position + chunkBytes of the last chunk yielded.
     */
    public end = Number.POSITIVE_INFINITY,
    /** Whole lines read before the range (the header lines a range needs, e.g. Zeek's #fields). */
    readonly prelude: Uint8Array | null = null,
    /** Read size; may be set before the chunks are iterated (tests of `audit --jobs`). */
    public chunkBytes = FILE_CHUNK_BYTES,
  ) {}

  /**
   * Each chunk is a view of one of two buffers: valid until the next one is asked for. The next
   * chunk is read into the other buffer while the consumer works on this one (the read runs on
   * libuv's thread pool), so the consumer does not wait for it.
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer, void, undefined> {
    const handle = await open(this.path, 'r');
    let pending: Promise<{ bytesRead: number }> | null = null;
    try {
      const prelude = this.prelude;
      // A Buffer sent to a worker thread arrives as a plain Uint8Array: made a Buffer again.
      if (prelude !== null && prelude.length > 0)
        yield Buffer.from(prelude.buffer, prelude.byteOffset, prelude.length);
      let buffer: Buffer = Buffer.allocUnsafeSlow(this.chunkBytes);
      let spare: Buffer | null = null;
      let position = this.start;
      const readAt = (into: Buffer) => {
        const read = handle.read(into, 0, Math.min(this.chunkBytes, this.end - position), position);
        // A read ahead may fail while the consumer is busy elsewhere (awaiting its sink): the
        // error is thrown below, when the consumer asks for that chunk, not as an unhandled
        // rejection that ends the process.
        read.catch(() => undefined);
        return read;
      };
      if (position < this.end) pending = readAt(buffer);
      while (pending !== null) {
        const { bytesRead } = await pending;
        pending = null;
        if (bytesRead === 0) break;
        position += bytesRead;
        const chunk = buffer;
        if (position < this.end) {
          // A file of one chunk needs no second buffer.
          spare ??= Buffer.allocUnsafeSlow(this.chunkBytes);
          buffer = spare;
          spare = chunk;
          pending = readAt(buffer);
        }
        this.bytesRead += bytesRead;
        yield chunk.subarray(0, bytesRead);
      }
    } finally {
      // A consumer that stops early: the read in flight ends before the file is closed.
      if (pending !== null) await pending.catch(() => undefined);
      await handle.close();
    }
  }
}
