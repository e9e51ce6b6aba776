// What the capture file readers hand each packet to.

export interface PacketHandler {
  /**
   * One packet: its captured bytes are `buf[offset, offset + capturedLength)`, it was
   * `originalLength` bytes on the wire, at `timeMs` (epoch milliseconds, NaN when the file does
   * not say), and it is packet number `packetNumber` (1-based, as Wireshark counts).
   */
  packet(
    linkType: number,
    buf: Buffer,
    offset: number,
    capturedLength: number,
    originalLength: number,
    timeMs: number,
    packetNumber: number,
  ): void;
}
