// Opens an input (file path or `-` for stdin), transparently gunzips it, and returns its first
// bytes for format detection together with a stream that still yields every byte.
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';

export interface OpenedInput {
  name: string;
  /** Up to `headBytes` of the decompressed content. */
  head: Buffer;
  /** The whole decompressed content, from the first byte. */
  stream: Readable;
  compressed: boolean;
}

const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;

export async function openInput(name: string, stdin?: Readable, headBytes = 65536): Promise<OpenedInput> {
  const raw: Readable = name === '-' ? (stdin ?? process.stdin) : createReadStream(name);
  const first = await peek(raw, 2);
  const compressed = first.length >= 2 && first[0] === GZIP_MAGIC_0 && first[1] === GZIP_MAGIC_1;
  let stream: Readable = raw;
  if (compressed) {
    const gunzip = createGunzip();
    raw.on('error', (error) => gunzip.destroy(error));
    stream = raw.pipe(gunzip);
  }
  const head = await peek(stream, headBytes);
  return { name, head, stream, compressed };
}

/**
 * Reads up to `bytes` from a stream and puts them back (unshift), so the consumer still sees all of
 * it. Resolves early at end of stream. Rejects with the stream's error (e.g. ENOENT).
 */
export function peek(stream: Readable, bytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const finish = () => {
      cleanup();
      const head = Buffer.concat(chunks, length);
      if (head.length > 0) stream.unshift(head);
      resolve(head.subarray(0, bytes));
    };
    const onReadable = () => {
      while (length < bytes) {
        const chunk = stream.read() as Buffer | null;
        if (chunk === null) break;
        chunks.push(chunk);
        length += chunk.length;
      }
      if (length >= bytes) finish();
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const cleanup = () => {
      stream.off('readable', onReadable);
      stream.off('end', finish);
      stream.off('error', onError);
    };
    stream.on('readable', onReadable);
    stream.once('end', finish);
    stream.once('error', onError);
  });
}
