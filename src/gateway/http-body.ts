// Message body framing for the proxy: how many of the bytes that follow a head belong to its body.
// Bodies are forwarded as received (chunked stays chunked); the framers only find where a body ends
// and reject framing two parsers could read differently (bad chunk sizes, bare LF, missing CRLF).
import { GatewayError, type GatewayErrorCode } from './errors.js';

export interface BodyFramer {
  /** How many bytes of `chunk`, from `offset`, belong to the body; sets `done` at its end. */
  feed(chunk: Buffer, offset: number): number;
  readonly done: boolean;
}

/** A body of `Content-Length` bytes (also the empty body of GET, HEAD responses, 204, 304). */
export class LengthFramer implements BodyFramer {
  #remaining: number;

  constructor(length: number) {
    this.#remaining = length;
  }

  get done(): boolean {
    return this.#remaining === 0;
  }

  feed(chunk: Buffer, offset: number): number {
    const taken = Math.min(this.#remaining, chunk.length - offset);
    this.#remaining -= taken;
    return taken;
  }
}

/** A response body that ends when the origin closes the connection. */
export class UntilCloseFramer implements BodyFramer {
  readonly done = false;

  feed(chunk: Buffer, offset: number): number {
    return chunk.length - offset;
  }
}

enum Chunk {
  Size,
  Extension,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  TrailerStart,
  TrailerName,
  TrailerValue,
  TrailerLf,
  EndLf,
  Done,
}

const MAX_SIZE_DIGITS = 12; // 2^48 bytes: beyond any real body, far below Number's exact range
const MAX_EXTENSION_BYTES = 4096;

/** `1` for token characters (RFC 9110 §5.6.2), used for trailer field names. */
const tokenChars = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") tokenChars[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) tokenChars[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) tokenChars[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) tokenChars[c] = 1;

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/** Printable, SP, HTAB or obs-text: what a chunk extension or trailer value may hold. */
function isFieldChar(c: number): boolean {
  return c === 0x09 || (c >= 0x20 && c !== 0x7f);
}

/** `Transfer-Encoding: chunked` (RFC 9112 §7.1), validated strictly as the bytes stream past. */
export class ChunkedFramer implements BodyFramer {
  readonly #code: GatewayErrorCode;
  readonly #trailerLimit: number;
  #state = Chunk.Size;
  #size = 0;
  #digits = 0;
  #extensionBytes = 0;
  #sawSemicolon = false;
  #trailerBytes = 0;

  /** `code` names the error to raise: the client's fault (request) or the origin's (response). */
  constructor(code: GatewayErrorCode, trailerLimit: number) {
    this.#code = code;
    this.#trailerLimit = trailerLimit;
  }

  get done(): boolean {
    return this.#state === Chunk.Done;
  }

  feed(chunk: Buffer, offset: number): number {
    let i = offset;
    const length = chunk.length;
    while (i < length && this.#state !== Chunk.Done) {
      if (this.#state === Chunk.Data) {
        const taken = Math.min(this.#size, length - i);
        this.#size -= taken;
        i += taken;
        if (this.#size === 0) this.#state = Chunk.DataCr;
        continue;
      }
      this.#step(chunk[i] as number);
      i++;
    }
    return i - offset;
  }

  #fail(message: string): never {
    throw new GatewayError(this.#code, `bad chunked body: ${message}`);
  }

  #step(c: number): void {
    switch (this.#state) {
      case Chunk.Size: {
        const digit = hexValue(c);
        if (digit >= 0) {
          if (++this.#digits > MAX_SIZE_DIGITS) this.#fail('chunk size has too many digits');
          this.#size = this.#size * 16 + digit;
        } else if (this.#digits === 0) {
          this.#fail('chunk size is not hexadecimal');
        } else if (c === 0x3b || c === 0x20 || c === 0x09) {
          this.#state = Chunk.Extension;
          this.#sawSemicolon = c === 0x3b;
          this.#extensionBytes = 1;
        } else if (c === 0x0d) {
          this.#state = Chunk.SizeLf;
        } else {
          this.#fail('chunk size is followed by an unexpected character');
        }
        return;
      }
      case Chunk.Extension:
        if (c === 0x0d) {
          if (!this.#sawSemicolon) this.#fail('whitespace after the chunk size without an extension');
          this.#state = Chunk.SizeLf;
          return;
        }
        if (!isFieldChar(c)) this.#fail('chunk extension holds a control character');
        if (!this.#sawSemicolon) {
          if (c === 0x3b) this.#sawSemicolon = true;
          else if (c !== 0x20 && c !== 0x09) this.#fail('chunk extension does not start with ";"');
        }
        if (++this.#extensionBytes > MAX_EXTENSION_BYTES) this.#fail('chunk extension is too long');
        return;
      case Chunk.SizeLf:
        if (c !== 0x0a) this.#fail('chunk size line does not end in CRLF');
        this.#state = this.#size === 0 ? Chunk.TrailerStart : Chunk.Data;
        this.#digits = 0;
        return;
      case Chunk.DataCr:
        if (c !== 0x0d) this.#fail('chunk data is longer than its size');
        this.#state = Chunk.DataLf;
        return;
      case Chunk.DataLf:
        if (c !== 0x0a) this.#fail('chunk data does not end in CRLF');
        this.#state = Chunk.Size;
        this.#size = 0;
        return;
      case Chunk.TrailerStart:
        if (c === 0x0d) {
          this.#state = Chunk.EndLf;
          return;
        }
        if (c === 0x20 || c === 0x09) this.#fail('obs-fold in the trailer section');
        if (tokenChars[c] !== 1) this.#fail('trailer field name is not a token');
        this.#state = Chunk.TrailerName;
        this.#countTrailer();
        return;
      case Chunk.TrailerName:
        this.#countTrailer();
        if (c === 0x3a) this.#state = Chunk.TrailerValue;
        else if (tokenChars[c] !== 1) this.#fail('trailer field name is not a token');
        return;
      case Chunk.TrailerValue:
        if (c === 0x0d) {
          this.#state = Chunk.TrailerLf;
          return;
        }
        this.#countTrailer();
        if (!isFieldChar(c)) this.#fail('trailer field value holds a control character');
        return;
      case Chunk.TrailerLf:
        if (c !== 0x0a) this.#fail('trailer line does not end in CRLF');
        this.#state = Chunk.TrailerStart;
        return;
      case Chunk.EndLf:
        if (c !== 0x0a) this.#fail('chunked body does not end in CRLF');
        this.#state = Chunk.Done;
        return;
      default:
        return;
    }
  }

  #countTrailer(): void {
    if (++this.#trailerBytes > this.#trailerLimit) this.#fail('trailer section is too large');
  }
}
