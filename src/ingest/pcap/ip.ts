// IPv4 (with options and fragments) and IPv6 (with extension headers) down to the transport
// header. Lengths come from the IP header, not from what was captured, so byte counts stay right
// when the snapshot length cut the payload. Only the first fragment of a datagram is looked at.
import { Outcome, type PacketView, TCP, UDP } from './packet-view.js';
import { decodeTcpHeader, decodeUdpHeader, setPayload } from './transport.js';
import { GRE } from './tunnel.js';

/** IPv6 extension headers that use the generic `next header, length in 8-octet units` layout. */
const HOP_BY_HOP = 0;
const ROUTING = 43;
const FRAGMENT = 44;
const ESP = 50;
const AH = 51;
const NO_NEXT_HEADER = 59;
const DESTINATION_OPTIONS = 60;
const MOBILITY = 135;
const HIP = 139;
const SHIM6 = 140;
/** Bound on the extension-header chain (each is at least 8 bytes, but be explicit). */
const MAX_EXTENSION_HEADERS = 16;

/**
 * Decodes the IP header at `offset` (`view.etherType` says which version) and the TCP / UDP header
 * after it. `wireEnd` is where the packet ended on the wire (from the original length), which may
 * lie beyond the captured bytes.
 */
export function decodeIp(view: PacketView, offset: number, wireEnd: number): Outcome {
  return view.etherType === 0x0800 ? decodeIPv4(view, offset, wireEnd) : decodeIPv6(view, offset, wireEnd);
}

function decodeIPv4(view: PacketView, offset: number, wireEnd: number): Outcome {
  const buf = view.buf;
  if (view.capturedEnd - offset < 20) return fail(view, Outcome.truncated, 'IPv4 header');
  const first = buf[offset] as number;
  if (first >> 4 !== 4) return fail(view, Outcome.malformed, 'IPv4 header with a version other than 4');
  const headerLength = (first & 0x0f) * 4;
  if (headerLength < 20) return fail(view, Outcome.malformed, 'IPv4 header length below 20 bytes');
  if (view.capturedEnd - offset < headerLength) return fail(view, Outcome.truncated, 'IPv4 options');
  let totalLength = buf.readUInt16BE(offset + 2);
  const onWire = wireEnd - offset;
  // 0 is what captures on a sending host with TCP segmentation offload show: use the frame.
  if (totalLength === 0) totalLength = onWire;
  if (totalLength < headerLength)
    return fail(view, Outcome.malformed, 'IPv4 total length below the header length');
  if (totalLength > onWire)
    return fail(view, Outcome.malformed, 'IPv4 total length beyond the end of the frame');
  const fragment = buf.readUInt16BE(offset + 6);
  if ((fragment & 0x1fff) !== 0) return Outcome.laterFragment;
  view.firstFragment = (fragment & 0x2000) !== 0;
  view.ipVersion = 4;
  view.srcOffset = offset + 12;
  view.dstOffset = offset + 16;
  return decodeTransport(view, buf[offset + 9] as number, offset + headerLength, offset + totalLength);
}

function decodeIPv6(view: PacketView, offset: number, wireEnd: number): Outcome {
  const buf = view.buf;
  const capturedEnd = view.capturedEnd;
  if (capturedEnd - offset < 40) return fail(view, Outcome.truncated, 'IPv6 header');
  if ((buf[offset] as number) >> 4 !== 6)
    return fail(view, Outcome.malformed, 'IPv6 header with a version other than 6');
  let payloadLength = buf.readUInt16BE(offset + 4);
  const onWire = wireEnd - offset - 40;
  // 0: a jumbogram, or segmentation offload on the capturing host; the frame says how long.
  if (payloadLength === 0) payloadLength = onWire;
  if (payloadLength > onWire)
    return fail(view, Outcome.malformed, 'IPv6 payload length beyond the end of the frame');
  const end = offset + 40 + payloadLength;
  view.firstFragment = false;
  view.ipVersion = 6;
  view.srcOffset = offset + 8;
  view.dstOffset = offset + 24;
  let next = buf[offset + 6] as number;
  let at = offset + 40;
  for (let count = 0; count < MAX_EXTENSION_HEADERS; count++) {
    switch (next) {
      case HOP_BY_HOP:
      case ROUTING:
      case DESTINATION_OPTIONS:
      case MOBILITY:
      case HIP:
      case SHIM6:
      case AH: {
        if (capturedEnd - at < 2) return fail(view, Outcome.truncated, 'IPv6 extension header');
        const length = next === AH ? ((buf[at + 1] as number) + 2) * 4 : ((buf[at + 1] as number) + 1) * 8;
        next = buf[at] as number;
        at += length;
        break;
      }
      case FRAGMENT: {
        if (capturedEnd - at < 8) return fail(view, Outcome.truncated, 'IPv6 fragment header');
        const fragment = buf.readUInt16BE(at + 2);
        if ((fragment & 0xfff8) !== 0) return Outcome.laterFragment;
        view.firstFragment = (fragment & 1) !== 0;
        next = buf[at] as number;
        at += 8;
        break;
      }
      case ESP:
        return Outcome.encrypted;
      case NO_NEXT_HEADER:
        return Outcome.otherIpProtocol;
      default:
        if (at > end)
          return fail(view, Outcome.malformed, 'IPv6 extension headers beyond the payload length');
        return decodeTransport(view, next, at, end);
    }
    if (at > end) return fail(view, Outcome.malformed, 'IPv6 extension headers beyond the payload length');
  }
  return fail(view, Outcome.malformed, 'more than 16 IPv6 extension headers');
}

function decodeTransport(view: PacketView, protocol: number, offset: number, end: number): Outcome {
  view.protocol = protocol;
  if (protocol === TCP) return decodeTcpHeader(view, offset, end);
  if (protocol === UDP) return decodeUdpHeader(view, offset, end);
  // GRE stays `otherIpProtocol` unless tunnel.ts finds a packet inside: it needs the payload.
  if (protocol === GRE) setPayload(view, offset, end);
  return Outcome.otherIpProtocol;
}

function fail(view: PacketView, outcome: Outcome, reason: string): Outcome {
  view.reason = reason;
  return outcome;
}
