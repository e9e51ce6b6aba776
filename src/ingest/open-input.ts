// Opens an input (file path or `-` for stdin), transparently gunzips it, decodes UTF-16 text (a
// byte order mark tells: what Windows PowerShell's `>` writes) to UTF-8, and returns its first
// bytes for format detection together with a stream that still yields every byte. Every format
// therefore reads UTF-8 (or binary) and none has to know about the other encodings.
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';

export interface OpenedInput {
  name: string;
  /** Up to `headBytes` of the decompressed content. */
  head: Buffer;
  /** The whole decompressed content, from the first byte. */
  stream: Readable;
  compressed: boolean;
  /** How the text was encoded before it was decoded to UTF-8 (`utf-8`: left as it was). */
  encoding: InputEncoding;
}

export type InputEncoding = 'utf-8' | 'utf-16le' | 'utf-16be';

const READ_CHUNK = 1 << 20;
const GUNZIP_CHUNK = 256 << 10;
const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;

export async function openInput(name: string, stdin?: Readable, headBytes = 65536): Promise<OpenedInput> {
  // 1 MiB reads: at the default 64 KiB, stream overhead alone caps reading near 500 MB/s.
  const raw: Readable =
    name === '-' ? (stdin ?? process.stdin) : createReadStream(name, { highWaterMark: READ_CHUNK });
  const first = await peek(raw, 2);
  const compressed =
    first.head.length >= 2 && first.head[0] === GZIP_MAGIC_0 && first.head[1] === GZIP_MAGIC_1;
  let stream: Readable = first.stream;
  if (compressed) {
    // Loaded here: node's zlib module costs a process that reads no .gz about 5-10 ms to load.
    const { createGunzip } = await import('node:zlib');
    const gunzip = createGunzip({ chunkSize: GUNZIP_CHUNK });
    stream.on('error', (error) => gunzip.destroy(error));
    stream = stream.pipe(gunzip);
  }
  const marked = await peek(stream, 2);
  const encoding = utf16Encoding(marked.head);
  stream = encoding === 'utf-8' ? marked.stream : decodeToUtf8(marked.stream, encoding);
  const peeked = await peek(stream, headBytes);
  return { name, head: peeked.head, stream: peeked.stream, compressed, encoding };
}

/** UTF-16 when the content starts with its byte order mark (no capture or gzip magic does). */
function utf16Encoding(head: Buffer): InputEncoding {
  if (head.length < 2) return 'utf-8';
  if (head[0] === 0xff && head[1] === 0xfe) return 'utf-16le';
  if (head[0] === 0xfe && head[1] === 0xff) return 'utf-16be';
  return 'utf-8';
}

/**
 * Re-encodes a UTF-16 stream as UTF-8, the byte order mark dropped. The streaming decoder keeps a
 * code unit or surrogate pair cut between chunks for the next one; unpaired surrogates and an odd
 * last byte become U+FFFD, as a text editor shows them.
 */
function decodeToUtf8(source: Readable, encoding: 'utf-16le' | 'utf-16be'): Readable {
  const decoder = new TextDecoder(encoding);
  async function* utf8(): AsyncGenerator<Buffer> {
    for await (const chunk of source) {
      const text = decoder.decode(chunk as Buffer, { stream: true });
      if (text.length > 0) yield Buffer.from(text, 'utf8');
    }
    const rest = decoder.decode();
    if (rest.length > 0) yield Buffer.from(rest, 'utf8');
  }
  return Readable.from(utf8(), { objectMode: false });
}

export interface Peeked {
  /** Up to `bytes` from the start of the stream (fewer at end of stream). */
  head: Buffer;
  /** A stream with every byte of the original, the peeked ones included. */
  stream: Readable;
}

/**
 * Reads up to `bytes` from a stream and returns them with a stream that still yields all of it.
 * (Not `unshift`: that throws once a short input has ended, which is exactly when a small file
 * has been read whole.) Rejects with the stream's error (e.g. ENOENT) when it fails before any
 * byte; an error after some bytes is raised by the returned stream after those bytes.
 */
export async function peek(source: Readable, bytes: number): Promise<Peeked> {
  const iterator = source[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  const chunks: Buffer[] = [];
  let length = 0;
  let ended = false;
  let failure: { error: unknown } | undefined;
  while (length < bytes) {
    let next: IteratorResult<Buffer | string>;
    try {
      next = await iterator.next();
    } catch (error) {
      // Nothing read yet (no such file, not gzip at all): the input cannot be opened. Otherwise
      // (a truncated .gz smaller than the head) the bytes before the error are still delivered.
      if (length === 0) throw error;
      failure = { error };
      ended = true;
      break;
    }
    if (next.done) {
      ended = true;
      break;
    }
    const chunk = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
    chunks.push(chunk);
    length += chunk.length;
  }
  // One chunk (the usual case: a read is larger than any head asked for) is replayed as it is:
  // a stream hands out a new buffer per read, and copying it cost a fresh megabyte per peek.
  const all = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, length);
  async function* replay(): AsyncGenerator<Buffer> {
    try {
      if (all.length > 0) yield all;
      if (failure) throw failure.error;
      if (ended) return;
      for (;;) {
        const next = await iterator.next();
        if (next.done) return;
        yield typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
      }
    } finally {
      if (!ended) await iterator.return?.();
    }
  }
  return { head: all.subarray(0, bytes), stream: Readable.from(replay(), { objectMode: false }) };
}
