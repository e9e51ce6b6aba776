// Encapsulations whose inner packets are the traffic to audit: VXLAN (RFC 7348, UDP 4789), GENEVE
// (RFC 8926, UDP 6081) and GRE (RFC 2784 / 2890) carrying IP, Ethernet (transparent bridging) or
// ERSPAN type I, II and III mirror sessions. The outer addresses are kept on the view (the first,
// outermost, encapsulation's) so the flow record can name the tunnel as evidence.
import { decodeLinkLayer, LinkType } from './link-layer.js';
import { Outcome, type PacketView, UDP } from './packet-view.js';

export const GRE = 47;
export const VXLAN_PORT = 4789;
export const GENEVE_PORT = 6081;
/** Tunnels in tunnels are followed this deep (a bound on the work per packet). */
export const MAX_TUNNEL_DEPTH = 4;

/** Returned by decapsulate() when the payload is not an encapsulation: the packet is as it is. */
export const NOT_A_TUNNEL = -1000;

export const TunnelKind = { none: 0, vxlan: 1, geneve: 2, gre: 3, erspan: 4 } as const;
export type TunnelKind = (typeof TunnelKind)[keyof typeof TunnelKind];

const tunnelNames = ['', 'vxlan', 'geneve', 'gre', 'erspan'] as const;

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
/** Transparent Ethernet bridging: an Ethernet frame follows (GENEVE, GRE / NVGRE). */
const ETHERTYPE_TEB = 0x6558;
const ETHERTYPE_ERSPAN_II = 0x88be;
const ETHERTYPE_ERSPAN_III = 0x22eb;

const GRE_CHECKSUM = 0x8000;
const GRE_KEY = 0x2000;
const GRE_SEQUENCE = 0x1000;
const GRE_VERSION = 0x0007;

/** Whether the decoded packet may carry an encapsulated one (the cheap test of the hot path). */
export function mayBeTunnel(view: PacketView, outcome: Outcome): boolean {
  if (outcome === Outcome.transport)
    return view.protocol === UDP && (view.dstPort === VXLAN_PORT || view.dstPort === GENEVE_PORT);
  return outcome === Outcome.otherIpProtocol && view.protocol === GRE;
}

/**
 * Decodes the encapsulation in the payload of the packet on `view` (UDP to 4789 / 6081, or GRE).
 * Returns the offset of the inner IP header (`view.etherType` set, `view.innerEnd` where the inner
 * packet ends on the wire), a negative `-Outcome` when the inner frame is no IP or cut off, or
 * NOT_A_TUNNEL when the payload is no encapsulation after all.
 */
export function decapsulate(view: PacketView): number {
  const start = view.payloadOffset;
  const end = start + view.payloadLength;
  let kind: TunnelKind;
  let id = -1;
  let inner: number;
  if (view.protocol === GRE) {
    const gre = decodeGre(view, start, end);
    if (gre === NOT_A_TUNNEL) return NOT_A_TUNNEL;
    kind = greKind;
    id = greKey;
    inner = gre;
  } else if (view.dstPort === VXLAN_PORT) {
    // flags (I = 0x08: the VNI is valid), 3 reserved bytes, VNI, 1 reserved byte; then Ethernet.
    if (view.capturedEnd - start < 8 || end - start < 8) return NOT_A_TUNNEL;
    if (((view.buf[start] as number) & 0x08) === 0) return NOT_A_TUNNEL;
    kind = TunnelKind.vxlan;
    id = view.buf.readUIntBE(start + 4, 3);
    inner = innerFrame(view, LinkType.ethernet, start + 8);
  } else {
    // version (2 bits, 0) and options length (6 bits, 4-byte words), flags, protocol type, VNI.
    if (view.capturedEnd - start < 8 || end - start < 8) return NOT_A_TUNNEL;
    const first = view.buf[start] as number;
    if (first >> 6 !== 0) return NOT_A_TUNNEL;
    const headerLength = 8 + (first & 0x3f) * 4;
    if (headerLength > end - start) return NOT_A_TUNNEL;
    kind = TunnelKind.geneve;
    id = view.buf.readUIntBE(start + 4, 3);
    inner = innerByType(view, view.buf.readUInt16BE(start + 2), start + headerLength);
  }
  if (view.tunnelKind === TunnelKind.none) {
    view.tunnelKind = kind;
    view.tunnelId = id;
    view.outerIpVersion = view.ipVersion;
    view.outerSrcOffset = view.srcOffset;
    view.outerDstOffset = view.dstOffset;
  }
  view.innerEnd = end;
  return inner;
}

// decodeGre's second results (module scratch: the hot path allocates nothing).
let greKind: TunnelKind = TunnelKind.gre;
let greKey = -1;

/** GRE header and what follows it; ERSPAN headers are stepped over to the mirrored frame. */
function decodeGre(view: PacketView, start: number, end: number): number {
  const buf = view.buf;
  if (view.capturedEnd - start < 4 || end - start < 4) return NOT_A_TUNNEL;
  const flags = buf.readUInt16BE(start);
  // Version 1 is PPTP's enhanced GRE (PPP inside): not a tunnel of IP traffic to audit here.
  if ((flags & GRE_VERSION) !== 0) return NOT_A_TUNNEL;
  const type = buf.readUInt16BE(start + 2);
  let at = start + 4;
  if (flags & GRE_CHECKSUM) at += 4;
  greKey = -1;
  if (flags & GRE_KEY) {
    if (view.capturedEnd - at < 4) return -Outcome.truncated;
    greKey = buf.readUInt32BE(at);
    at += 4;
  }
  if (flags & GRE_SEQUENCE) at += 4;
  if (at > end) return NOT_A_TUNNEL;
  greKind = TunnelKind.gre;
  if (type === ETHERTYPE_ERSPAN_II) {
    greKind = TunnelKind.erspan;
    // Type I has no sequence number and no ERSPAN header; type II an 8-byte header (RFC draft
    // foschiano-erspan): version 1, VLAN, COS / encapsulation / truncated, session id, index.
    if (flags & GRE_SEQUENCE) {
      if (view.capturedEnd - at < 8) return -Outcome.truncated;
      greKey = buf.readUInt16BE(at + 2) & 0x03ff;
      at += 8;
    }
    return innerFrame(view, LinkType.ethernet, at);
  }
  if (type === ETHERTYPE_ERSPAN_III) {
    // Type III: 12 bytes (version 2, VLAN, session id, timestamp, SGT, flags), then 8 more of
    // platform-specific subheader when its O flag (the last bit) is set.
    greKind = TunnelKind.erspan;
    if (view.capturedEnd - at < 12) return -Outcome.truncated;
    greKey = buf.readUInt16BE(at + 2) & 0x03ff;
    const optional = ((buf[at + 11] as number) & 0x01) !== 0;
    at += optional ? 20 : 12;
    return innerFrame(view, LinkType.ethernet, at);
  }
  return innerByType(view, type, at);
}

/** The inner packet by an ethertype-like protocol type (GENEVE, GRE). */
function innerByType(view: PacketView, type: number, at: number): number {
  if (type === ETHERTYPE_TEB) return innerFrame(view, LinkType.ethernet, at);
  if (type === ETHERTYPE_IPV4 || type === ETHERTYPE_IPV6) return innerFrame(view, LinkType.raw, at);
  view.etherType = type;
  return -Outcome.notIp;
}

function innerFrame(view: PacketView, linkType: number, at: number): number {
  if (at > view.capturedEnd) {
    view.reason = 'encapsulation header';
    return -Outcome.truncated;
  }
  return decodeLinkLayer(view, linkType, at);
}

/** `vxlan 192.0.2.1>192.0.2.2 vni 5001`: the outermost tunnel of a packet, for evidence. */
export function tunnelEvidence(
  view: PacketView,
  format: (offset: number, version: number) => string,
): string {
  const name = tunnelNames[view.tunnelKind] ?? 'tunnel';
  const pair = `${format(view.outerSrcOffset, view.outerIpVersion)}>${format(view.outerDstOffset, view.outerIpVersion)}`;
  if (view.tunnelId < 0) return `${name} ${pair}`;
  const label =
    view.tunnelKind === TunnelKind.erspan ? 'session' : view.tunnelKind === TunnelKind.gre ? 'key' : 'vni';
  return `${name} ${pair} ${label} ${view.tunnelId}`;
}
