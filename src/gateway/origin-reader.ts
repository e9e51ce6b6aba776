// The origin-to-client direction of a tunnel without a fresh buffer per read. A plain `pipe` makes
// Node allocate a new 64 KiB ArrayBuffer for every read; in the gateway's process (a larger heap
// than a bare relay's) the garbage collection those buffers cause was the biggest difference to a
// bare `net.connect` + `pipe` relay (docs/performance.md, "Tunnels and throughput, session 3").
//
// The socket is dialed with `onread` (node:net): Node asks `buffer()` where the next read goes and
// hands each read to `callback`. Reads land in one of two places:
// - a buffer shared by every tunnel (SHARED): its bytes are copied before they are written, so it
//   is free again as soon as the callback returns. Quiet tunnels read here; they pin nothing.
// - a buffer of the tunnel's own, taken from a small pool once a read shows bytes queued (a read of
//   at least BULK_READ bytes). Its bytes are written without a copy. A write that does not complete
//   at once keeps referring to it, so the buffer is lent to that write: reading stops until that
//   write's callback (and the client socket's 'drain', if a later write asked for one), then the
//   next read may reuse it. A short read (the backlog is drained) gives the buffer back to the
//   pool, and at most MAX_OWNED buffers exist at a time: past that, reads stay on the shared path.
//   So idle tunnels do not each pin a buffer: the most this costs is MAX_OWNED * CHUNK in total.
//
// Reads are up to 256 KiB (Node's own reads are 64 KiB): a bulk transfer then takes a quarter of
// the read and write system calls and of the per-chunk stream work; the CPU per MiB of a 256 MiB
// transfer fell by a quarter to a third (docs/performance.md, "Tunnels and idle memory, session 5").
import type { Socket } from 'node:net';

const CHUNK = 256 * 1024;
/** A read at least this large means the origin has bytes queued: worth a buffer of its own. */
const BULK_READ = 16 * 1024;
/** Own buffers in use or pooled, at most (4 MiB). */
export const MAX_OWNED_READ_BUFFERS = 16;
const MAX_OWNED = MAX_OWNED_READ_BUFFERS;

const SHARED = Buffer.allocUnsafeSlow(CHUNK);
const pool: Buffer[] = [];
let owned = 0;

function takeBuffer(): Buffer | null {
  const pooled = pool.pop();
  if (pooled) return pooled;
  if (owned >= MAX_OWNED) return null;
  owned++;
  return Buffer.allocUnsafeSlow(CHUNK);
}

function giveBack(buffer: Buffer): void {
  pool.push(buffer);
}

/** Own buffers that exist (in use or pooled) and pooled ones; for tests. */
export function originReadBuffers(): { owned: number; pooled: number } {
  return { owned, pooled: pool.length };
}

export class OriginReader {
  /** What `net.connect` gets as its `onread` option. */
  readonly onread: { buffer: () => Buffer; callback: (length: number, buffer: Buffer) => boolean };
  #socket: Socket | null = null;
  #target: Socket | null = null;
  /** Bytes read before the relay was attached (copies), written first. */
  #held: Buffer[] | null = null;
  #own: Buffer | null = null;
  /** The own buffer is referred to by a client write that has not completed. */
  #lent = false;
  #waiting = false;
  #released = false;

  constructor() {
    this.onread = {
      buffer: () => this.#own ?? SHARED,
      callback: (length, buffer) => this.#onRead(length, buffer),
    };
  }

  /** Starts relaying what `socket` reads to `target` (what was read before goes first). */
  attach(socket: Socket, target: Socket): void {
    this.#socket = socket;
    this.#target = target;
    const held = this.#held;
    this.#held = null;
    if (held) for (const chunk of held) target.write(chunk);
    socket.on('end', this.#onEnd);
    if (target.writableNeedDrain) this.#waitForDrain();
    // Flowing mode: reading starts again, and the end of the stream is emitted as 'end'.
    else socket.resume();
  }

  /** Stops relaying (the socket is about to be dropped); bytes read from now on are held. */
  detach(): void {
    this.#socket?.off('end', this.#onEnd);
    this.#target = null;
  }

  /** At close: the own buffer goes back to the pool unless a write may still refer to it. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.detach();
    if (this.#own !== null && !this.#lent) giveBack(this.#own);
    else if (this.#own !== null) owned--; // dropped with the write that holds it
    this.#own = null;
  }

  #onRead(length: number, buffer: Buffer): boolean {
    const target = this.#target;
    if (target === null || this.#released) {
      const copy = Buffer.from(buffer.subarray(0, length));
      if (this.#held === null) this.#held = [copy];
      else this.#held.push(copy);
      return false;
    }
    if (buffer === SHARED) {
      const flowing = target.write(Buffer.from(buffer.subarray(0, length)));
      if (length >= BULK_READ && this.#own === null) this.#own = takeBuffer();
      if (flowing) return true;
      this.#waitForDrain();
      return false;
    }
    target.write(buffer.subarray(0, length), this.#afterOwnWrite);
    if (target.writableLength > 0) {
      // The write is queued or in flight and points into the own buffer: no read until it is done.
      this.#lent = true;
      return false;
    }
    if (length < BULK_READ && this.#own !== null) {
      giveBack(this.#own);
      this.#own = null;
    }
    return true;
  }

  #afterOwnWrite = (error?: Error | null): void => {
    if (!this.#lent) return;
    const target = this.#target;
    if (error || target === null) return;
    // This write was the last to refer to the own buffer: it is free. Bytes still queued are
    // later writes to the client (another writer's), not the buffer's: reading waits for their
    // 'drain' only if one of them asked for it (a write that returned false); with none asked, no
    // 'drain' would come, so reading resumes now. Before, bytes still queued here stopped the
    // tunnel for good: nothing resumed it.
    this.#lent = false;
    if (target.writableNeedDrain) this.#waitForDrain();
    else this.#socket?.resume();
  };

  #waitForDrain(): void {
    if (this.#waiting || this.#target === null) return;
    this.#waiting = true;
    this.#target.once('drain', this.#onDrain);
  }

  #onDrain = (): void => {
    this.#waiting = false;
    if (this.#target !== null && !this.#lent) this.#socket?.resume();
  };

  #onEnd = (): void => {
    this.#target?.end();
  };
}
