// pcapng files: Section Header Blocks (byte order per section), Interface Description Blocks
// (link type and timestamp resolution per interface), Enhanced / Simple / obsolete Packet Blocks;
// every other block is skipped, as the format requires of readers.
// Format: https://datatracker.ietf.org/doc/draft-ietf-opsawg-pcapng/

import type { CaptureProblems } from './capture-problems.js';
import type { PacketHandler } from './packet-handler.js';
import type { RecordFramer } from './record-stream.js';

export const BlockType = {
  sectionHeader: 0x0a0d0d0a,
  interfaceDescription: 1,
  packet: 2,
  simplePacket: 3,
  nameResolution: 4,
  interfaceStatistics: 5,
  enhancedPacket: 6,
} as const;

const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
/** Largest block accepted; larger lengths mean the file is corrupt (Wireshark uses 16 MiB too). */
const MAX_BLOCK_LENGTH = 16 * 1024 * 1024;
const OPTION_END = 0;
const OPTION_IF_TSRESOL = 9;
const OPTION_IF_TSOFFSET = 14;

interface CaptureInterface {
  linkType: number;
  snapLength: number;
  /** Milliseconds per timestamp unit (if_tsresol; microseconds by default). */
  msPerUnit: number;
  /** if_tsoffset, in milliseconds. */
  offsetMs: number;
}

/** True when the first bytes are a pcapng Section Header Block. */
export function isPcapngMagic(head: Buffer): boolean {
  return head.length >= 4 && head.readUInt32LE(0) === BlockType.sectionHeader;
}

export class PcapngReader implements RecordFramer {
  readonly #handler: PacketHandler;
  readonly #problems: CaptureProblems;
  #littleEndian = true;
  #inSection = false;
  #interfaces: CaptureInterface[] = [];
  #packets = 0;

  constructor(handler: PacketHandler, problems: CaptureProblems) {
    this.#handler = handler;
    this.#problems = problems;
  }

  headerLength(): number {
    // Type and length, plus the byte-order magic that says how to read a section header's length.
    return 12;
  }

  recordLength(buf: Buffer, offset: number): number {
    if (buf.readUInt32LE(offset) === BlockType.sectionHeader) {
      let littleEndian: boolean;
      if (buf.readUInt32LE(offset + 8) === BYTE_ORDER_MAGIC) littleEndian = true;
      else if (buf.readUInt32BE(offset + 8) === BYTE_ORDER_MAGIC) littleEndian = false;
      else return -1;
      const length = littleEndian ? buf.readUInt32LE(offset + 4) : buf.readUInt32BE(offset + 4);
      return checkedLength(length, 28);
    }
    if (!this.#inSection) return -1;
    return checkedLength(this.#u32(buf, offset + 4), 12);
  }

  record(buf: Buffer, offset: number, length: number, fileOffset: number): boolean {
    const type =
      buf.readUInt32LE(offset) === BlockType.sectionHeader ? BlockType.sectionHeader : this.#u32(buf, offset);
    if (type === BlockType.sectionHeader) {
      this.#littleEndian = buf.readUInt32LE(offset + 8) === BYTE_ORDER_MAGIC;
    }
    if (this.#u32(buf, offset + length - 4) !== length) {
      this.#problems.counters.malformed++;
      this.#problems.report(
        this.#packets + 1,
        `corrupt pcapng block at byte ${fileOffset}: its two length fields differ; the rest of the capture is skipped`,
      );
      return false;
    }
    switch (type) {
      case BlockType.sectionHeader:
        return this.#sectionHeader(buf, offset, fileOffset);
      case BlockType.interfaceDescription:
        this.#interfaceDescription(buf, offset, length, fileOffset);
        return true;
      case BlockType.enhancedPacket:
        this.#packetBlock(buf, offset, length, fileOffset, this.#u32(buf, offset + 8));
        return true;
      case BlockType.packet:
        this.#packetBlock(buf, offset, length, fileOffset, this.#u16(buf, offset + 8));
        return true;
      case BlockType.simplePacket:
        this.#simplePacket(buf, offset, length);
        return true;
      default:
        this.#problems.counters.otherBlocks++;
        return true;
    }
  }

  corrupt(buf: Buffer, offset: number, fileOffset: number): void {
    this.#problems.counters.malformed++;
    if (!this.#inSection) {
      this.#problems.report(1, 'not a pcapng file: it does not start with a valid Section Header Block');
      return;
    }
    this.#problems.report(
      this.#packets + 1,
      `corrupt pcapng block header at byte ${fileOffset} (block length ${this.#u32(buf, offset + 4)}): the rest of the capture is skipped`,
    );
  }

  cut(have: number, need: number, fileOffset: number): void {
    this.#problems.report(
      this.#packets + 1,
      `capture ends inside the pcapng block at byte ${fileOffset} (${have} of ${need} bytes): the file was cut; everything before it is kept`,
    );
  }

  #sectionHeader(buf: Buffer, offset: number, fileOffset: number): boolean {
    const major = this.#u16(buf, offset + 12);
    if (major !== 1) {
      this.#problems.report(
        this.#packets + 1,
        `pcapng section at byte ${fileOffset} has version ${major}.${this.#u16(buf, offset + 14)}, not 1.x: the rest of the capture is skipped`,
      );
      return false;
    }
    this.#inSection = true;
    this.#interfaces = [];
    return true;
  }

  #interfaceDescription(buf: Buffer, offset: number, length: number, fileOffset: number): void {
    if (length < 20) {
      this.#problems.report(
        this.#packets + 1,
        `interface description block at byte ${fileOffset} is too short`,
      );
      // Keep interface numbering in step with the file.
      this.#interfaces.push({ linkType: -1, snapLength: 0, msPerUnit: 0.001, offsetMs: 0 });
      return;
    }
    const captureInterface: CaptureInterface = {
      linkType: this.#u16(buf, offset + 8),
      snapLength: this.#u32(buf, offset + 12),
      msPerUnit: 0.001,
      offsetMs: 0,
    };
    const end = offset + length - 4;
    let at = offset + 16;
    while (at + 4 <= end) {
      const code = this.#u16(buf, at);
      const optionLength = this.#u16(buf, at + 2);
      const value = at + 4;
      if (code === OPTION_END || value + optionLength > end) break;
      if (code === OPTION_IF_TSRESOL && optionLength >= 1) {
        const resolution = buf[value] as number;
        const exponent = resolution & 0x7f;
        const unitsPerSecond = resolution & 0x80 ? 2 ** exponent : 10 ** exponent;
        captureInterface.msPerUnit = 1000 / unitsPerSecond;
      } else if (code === OPTION_IF_TSOFFSET && optionLength === 8) {
        const seconds = this.#littleEndian ? buf.readBigInt64LE(value) : buf.readBigInt64BE(value);
        captureInterface.offsetMs = Number(seconds) * 1000;
      }
      at = value + ((optionLength + 3) & ~3);
    }
    this.#interfaces.push(captureInterface);
  }

  #packetBlock(buf: Buffer, offset: number, length: number, fileOffset: number, interfaceId: number): void {
    const packetNumber = ++this.#packets;
    if (length < 32) {
      this.#badPacketBlock(packetNumber, fileOffset, 'is shorter than a packet block header');
      return;
    }
    const captured = this.#u32(buf, offset + 20);
    if (28 + captured > length - 4) {
      this.#badPacketBlock(
        packetNumber,
        fileOffset,
        `says ${captured} bytes were captured, beyond the block`,
      );
      return;
    }
    const captureInterface = this.#interfaces[interfaceId];
    if (captureInterface === undefined) {
      this.#unknownInterface(packetNumber, interfaceId);
      return;
    }
    const units = this.#u32(buf, offset + 12) * 4294967296 + this.#u32(buf, offset + 16);
    const original = this.#u32(buf, offset + 24);
    this.#handler.packet(
      captureInterface.linkType,
      buf,
      offset + 28,
      captured,
      Math.max(original, captured),
      units * captureInterface.msPerUnit + captureInterface.offsetMs,
      packetNumber,
    );
  }

  #simplePacket(buf: Buffer, offset: number, length: number): void {
    const packetNumber = ++this.#packets;
    const captureInterface = this.#interfaces[0];
    if (captureInterface === undefined) {
      this.#unknownInterface(packetNumber, 0);
      return;
    }
    const original = this.#u32(buf, offset + 8);
    let captured = Math.min(original, length - 16);
    if (captureInterface.snapLength > 0 && captured > captureInterface.snapLength)
      captured = captureInterface.snapLength;
    // Simple Packet Blocks carry no timestamp.
    this.#handler.packet(
      captureInterface.linkType,
      buf,
      offset + 12,
      captured,
      original,
      Number.NaN,
      packetNumber,
    );
  }

  #badPacketBlock(packetNumber: number, fileOffset: number, what: string): void {
    this.#problems.counters.malformed++;
    if (this.#problems.wants('bad-block', packetNumber)) {
      this.#problems.report(packetNumber, `packet block at byte ${fileOffset} ${what}; packet skipped`);
    }
  }

  #unknownInterface(packetNumber: number, interfaceId: number): void {
    this.#problems.counters.unknownInterface++;
    if (this.#problems.wants('unknown-interface', packetNumber)) {
      this.#problems.report(
        packetNumber,
        `packet refers to interface ${interfaceId}, which the section does not describe; packet skipped`,
      );
    }
  }

  #u16(buf: Buffer, offset: number): number {
    return this.#littleEndian ? buf.readUInt16LE(offset) : buf.readUInt16BE(offset);
  }

  #u32(buf: Buffer, offset: number): number {
    return this.#littleEndian ? buf.readUInt32LE(offset) : buf.readUInt32BE(offset);
  }
}

function checkedLength(length: number, minimum: number): number {
  return length >= minimum && length % 4 === 0 && length <= MAX_BLOCK_LENGTH ? length : -1;
}
