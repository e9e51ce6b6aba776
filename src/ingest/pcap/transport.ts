// TCP and UDP headers: ports, TCP flags and sequence numbers, and where the payload is. The
// payload length is what the IP header says (wire bytes); `payloadCaptured` is what the capture
// holds of it.
import { Outcome, type PacketView } from './packet-view.js';

export const TcpFlag = { fin: 0x01, syn: 0x02, rst: 0x04, psh: 0x08, ack: 0x10 } as const;

/** TCP header at `offset`; the IP payload ends at `end` (wire). */
export function decodeTcpHeader(view: PacketView, offset: number, end: number): Outcome {
  const buf = view.buf;
  if (end - offset < 20) {
    view.reason = 'TCP header longer than the IP payload';
    return Outcome.malformed;
  }
  if (view.capturedEnd - offset < 20) {
    view.reason = 'TCP header';
    return Outcome.truncated;
  }
  const headerLength = ((buf[offset + 12] as number) >> 4) * 4;
  if (headerLength < 20 || headerLength > end - offset) {
    view.reason = 'TCP data offset outside the segment';
    return Outcome.malformed;
  }
  view.srcPort = buf.readUInt16BE(offset);
  view.dstPort = buf.readUInt16BE(offset + 2);
  view.seq = buf.readUInt32BE(offset + 4);
  view.ack = buf.readUInt32BE(offset + 8);
  view.tcpFlags = buf[offset + 13] as number;
  setPayload(view, offset + headerLength, end);
  return Outcome.transport;
}

/** UDP header at `offset`; the IP payload ends at `end` (wire). */
export function decodeUdpHeader(view: PacketView, offset: number, end: number): Outcome {
  const buf = view.buf;
  if (end - offset < 8) {
    view.reason = 'UDP header longer than the IP payload';
    return Outcome.malformed;
  }
  if (view.capturedEnd - offset < 8) {
    view.reason = 'UDP header';
    return Outcome.truncated;
  }
  view.srcPort = buf.readUInt16BE(offset);
  view.dstPort = buf.readUInt16BE(offset + 2);
  view.tcpFlags = 0;
  setPayload(view, offset + 8, end);
  // The first fragment of a fragmented datagram holds only part of it; the UDP length field
  // still says how big the whole datagram is, so byte counts stay right without reassembly.
  const udpLength = buf.readUInt16BE(offset + 4);
  if (view.firstFragment && udpLength >= 8) view.payloadLength = udpLength - 8;
  return Outcome.transport;
}

/** The transport payload (or, for GRE, the IP payload) is `[payloadOffset, end)` on the wire. */
export function setPayload(view: PacketView, payloadOffset: number, end: number): void {
  view.payloadOffset = payloadOffset;
  view.payloadLength = end - payloadOffset;
  const capturedEnd = Math.min(end, view.capturedEnd);
  view.payloadCaptured = capturedEnd > payloadOffset ? capturedEnd - payloadOffset : 0;
}
