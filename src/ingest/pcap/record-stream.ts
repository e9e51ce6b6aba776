// Cuts a byte stream into length-prefixed records (pcap packet records, pcapng blocks) while the
// chunks arrive. Records are read in place inside each chunk; only a record that straddles chunk
// boundaries is copied, so memory stays at one record however large the capture is.

export interface RecordFramer {
  /** Bytes needed before `recordLength` can tell the length of the next record. */
  headerLength(): number;
  /**
   * Total length of the record at `buf[offset]` (at least `headerLength()` bytes are there), or
   * -1 when the header is corrupt: reading stops. Must not report: it may be asked twice.
   */
  recordLength(buf: Buffer, offset: number): number;
  /** Handles one whole record; returns false to stop reading (it reported why). */
  record(buf: Buffer, offset: number, length: number, fileOffset: number): boolean;
  /** The header at `fileOffset` is corrupt (recordLength said -1): report it. */
  corrupt(buf: Buffer, offset: number, fileOffset: number): void;
  /** The stream ended inside a record: `have` of `need` bytes at `fileOffset` were there. */
  cut(have: number, need: number, fileOffset: number): void;
}

export class RecordStream {
  readonly #framer: RecordFramer;
  /** Pieces of the record being carried over from earlier chunks. */
  #parts: Buffer[] = [];
  #carried = 0;
  /** How many carried bytes are needed before the carried record can be looked at again. */
  #need = 0;
  /** Offset in the whole stream of the next record (or of the carried one). */
  #fileOffset = 0;
  #stopped = false;

  constructor(framer: RecordFramer) {
    this.#framer = framer;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** Bytes taken in so far (records handled plus the carried part). */
  get bytesRead(): number {
    return this.#fileOffset + this.#carried;
  }

  push(chunk: Buffer): void {
    if (this.#stopped) return;
    let position = 0;
    if (this.#carried > 0) {
      position = this.#completeCarried(chunk);
      if (position < 0) return;
    }
    const framer = this.#framer;
    while (!this.#stopped) {
      const available = chunk.length - position;
      if (available === 0) return;
      const header = framer.headerLength();
      if (available < header) {
        this.#carry(chunk, position, header);
        return;
      }
      const length = framer.recordLength(chunk, position);
      if (length < 0) {
        this.#corrupt(chunk, position);
        return;
      }
      if (length > available) {
        this.#carry(chunk, position, length);
        return;
      }
      const fileOffset = this.#fileOffset;
      this.#fileOffset += length;
      if (!framer.record(chunk, position, length, fileOffset)) this.#stopped = true;
      position += length;
    }
  }

  /** Reports a record left incomplete by the end of the stream. */
  end(): void {
    if (this.#stopped || this.#carried === 0) return;
    this.#framer.cut(this.#carried, this.#need, this.#fileOffset);
    this.#parts = [];
    this.#carried = 0;
  }

  /**
   * Feeds the carried record from the start of `chunk`. Returns the position in `chunk` where
   * whole records continue, or -1 when the chunk was used up (or reading stopped).
   */
  #completeCarried(chunk: Buffer): number {
    const framer = this.#framer;
    let position = 0;
    for (;;) {
      const take = Math.min(this.#need - this.#carried, chunk.length - position);
      if (take > 0) {
        this.#parts.push(chunk.subarray(position, position + take));
        this.#carried += take;
        position += take;
      }
      if (this.#carried < this.#need) return -1;
      const joined =
        this.#parts.length === 1 ? (this.#parts[0] as Buffer) : Buffer.concat(this.#parts, this.#carried);
      this.#parts = [joined];
      const length = framer.recordLength(joined, 0);
      if (length < 0 || length < this.#need) {
        this.#corrupt(joined, 0);
        return -1;
      }
      if (length > this.#carried) {
        this.#need = length;
        continue;
      }
      this.#parts = [];
      this.#carried = 0;
      const fileOffset = this.#fileOffset;
      this.#fileOffset += length;
      if (!framer.record(joined, 0, length, fileOffset)) {
        this.#stopped = true;
        return -1;
      }
      // A record never ends before its header; leftover joined bytes cannot exist.
      return position;
    }
  }

  #carry(chunk: Buffer, position: number, need: number): void {
    // Copy: the carried bytes outlive the chunk, which may be a slice of a much larger buffer.
    this.#parts = [Buffer.from(chunk.subarray(position))];
    this.#carried = chunk.length - position;
    this.#need = need;
  }

  #corrupt(buf: Buffer, offset: number): void {
    this.#framer.corrupt(buf, offset, this.#fileOffset);
    this.#stopped = true;
    this.#parts = [];
    this.#carried = 0;
  }
}
