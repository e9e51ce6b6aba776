// Classic libpcap files: a 24-byte file header (magic in either byte order, microsecond or
// nanosecond timestamps, link type) then 16-byte record headers each followed by the packet.
// Format: https://datatracker.ietf.org/doc/draft-ietf-opsawg-pcap/

import type { CaptureProblems } from './capture-problems.js';
import type { PacketHandler } from './packet-handler.js';
import type { RecordFramer } from './record-stream.js';

/** The four magic numbers as read little-endian from the first four bytes. */
const MAGIC_MICROS_LE = 0xa1b2c3d4;
const MAGIC_MICROS_BE = 0xd4c3b2a1;
const MAGIC_NANOS_LE = 0xa1b23c4d;
const MAGIC_NANOS_BE = 0x4d3cb2a1;

const FILE_HEADER_LENGTH = 24;
const RECORD_HEADER_LENGTH = 16;
/** libpcap's largest snapshot length for ordinary link types; beyond it (and the file's own
 *  snapshot length) a captured length means the record header is garbage. */
const STANDARD_MAX_CAPTURE = 262144;
const ABSOLUTE_MAX_CAPTURE = 16 * 1024 * 1024;

/** True when the first bytes are a classic pcap magic number (either order, either resolution). */
export function isPcapMagic(head: Buffer): boolean {
  if (head.length < 4) return false;
  const magic = head.readUInt32LE(0);
  return (
    magic === MAGIC_MICROS_LE ||
    magic === MAGIC_MICROS_BE ||
    magic === MAGIC_NANOS_LE ||
    magic === MAGIC_NANOS_BE
  );
}

export class PcapFileReader implements RecordFramer {
  readonly #handler: PacketHandler;
  readonly #problems: CaptureProblems;
  #headerRead = false;
  #littleEndian = true;
  /** Milliseconds per unit of the sub-second timestamp field. */
  #msPerFraction = 0.001;
  #linkType = 0;
  #maxCapture = STANDARD_MAX_CAPTURE;
  #packets = 0;

  constructor(handler: PacketHandler, problems: CaptureProblems) {
    this.#handler = handler;
    this.#problems = problems;
  }

  headerLength(): number {
    return this.#headerRead ? RECORD_HEADER_LENGTH : FILE_HEADER_LENGTH;
  }

  recordLength(buf: Buffer, offset: number): number {
    if (!this.#headerRead) return isPcapMagic(buf.subarray(offset, offset + 4)) ? FILE_HEADER_LENGTH : -1;
    const captured = this.#u32(buf, offset + 8);
    if (captured > this.#maxCapture) return -1;
    return RECORD_HEADER_LENGTH + captured;
  }

  record(buf: Buffer, offset: number, length: number): boolean {
    if (!this.#headerRead) {
      this.#readFileHeader(buf, offset);
      return true;
    }
    const packetNumber = ++this.#packets;
    const seconds = this.#u32(buf, offset);
    const fraction = this.#u32(buf, offset + 4);
    const original = this.#u32(buf, offset + 12);
    const captured = length - RECORD_HEADER_LENGTH;
    this.#handler.packet(
      this.#linkType,
      buf,
      offset + RECORD_HEADER_LENGTH,
      captured,
      Math.max(original, captured),
      seconds * 1000 + fraction * this.#msPerFraction,
      packetNumber,
    );
    return true;
  }

  corrupt(buf: Buffer, offset: number, fileOffset: number): void {
    if (!this.#headerRead) {
      this.#problems.report(
        1,
        'not a pcap file: the magic number is not a1b2c3d4 / a1b23c4d in either byte order',
      );
      return;
    }
    const packetNumber = this.#packets + 1;
    const captured = this.#u32(buf, offset + 8);
    this.#problems.counters.malformed++;
    this.#problems.report(
      packetNumber,
      `corrupt packet record header at byte ${fileOffset} (captured length ${captured} is beyond ${this.#maxCapture}): the rest of the capture is skipped`,
    );
  }

  cut(have: number, need: number, fileOffset: number): void {
    if (!this.#headerRead) {
      this.#problems.report(1, `capture too short for a pcap file header (${have} of 24 bytes)`);
      return;
    }
    this.#problems.report(
      this.#packets + 1,
      `capture ends inside packet ${this.#packets + 1} (${have} of ${need} bytes of the record at byte ${fileOffset}): the file was cut; the packets before it are kept`,
    );
  }

  #readFileHeader(buf: Buffer, offset: number): void {
    const magic = buf.readUInt32LE(offset);
    this.#littleEndian = magic === MAGIC_MICROS_LE || magic === MAGIC_NANOS_LE;
    const nanos = magic === MAGIC_NANOS_LE || magic === MAGIC_NANOS_BE;
    this.#msPerFraction = nanos ? 0.000001 : 0.001;
    const snapLength = this.#u32(buf, offset + 16);
    this.#maxCapture = Math.min(ABSOLUTE_MAX_CAPTURE, Math.max(STANDARD_MAX_CAPTURE, snapLength));
    // The upper bits of the link type field may carry FCS information; the type is the low 16.
    this.#linkType = this.#u32(buf, offset + 20) & 0xffff;
    this.#headerRead = true;
  }

  #u32(buf: Buffer, offset: number): number {
    return this.#littleEndian ? buf.readUInt32LE(offset) : buf.readUInt32BE(offset);
  }
}
