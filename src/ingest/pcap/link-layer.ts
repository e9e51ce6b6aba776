// Link-layer decoding: finds where the IP header starts for the link types captures on hosts,
// routers and taps use (Ethernet with 802.1Q / 802.1ad tags, Linux cooked SLL and SLL2, raw IP,
// BSD null / loopback). Link type numbers: https://www.tcpdump.org/linktypes.html
import { Outcome, type PacketView } from './packet-view.js';

export const LinkType = {
  null: 0,
  ethernet: 1,
  rawBsd: 12,
  rawOpenBsd: 14,
  raw: 101,
  loop: 108,
  linuxSll: 113,
  ipv4: 228,
  ipv6: 229,
  linuxSll2: 276,
} as const;

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const ETHERTYPE_VLAN = 0x8100;
const ETHERTYPE_QINQ = 0x88a8;
const ETHERTYPE_QINQ_OLD = 0x9100;
const ETHERTYPE_MACSEC = 0x88e5;
const ARPHRD_NETLINK = 824;

/**
 * Ethertypes that are ordinary link-local control or non-IP traffic on a LAN: skipped without a
 * problem. Anything else that is not IPv4 / IPv6 (MPLS, PPPoE sessions, ...) can carry IP traffic
 * this reader does not decode, so it is reported.
 */
const NORMAL_NON_IP = new Set<number>([
  0x0806, // ARP
  0x8035, // RARP
  0x0842, // Wake-on-LAN
  0x22f0, // AVTP (audio / video bridging)
  0x6002, // DEC MOP
  0x809b, // AppleTalk
  0x80f3, // AARP
  0x8137, // IPX
  0x8808, // Ethernet flow control (PAUSE)
  0x8809, // slow protocols (LACP, OAM)
  0x8863, // PPPoE discovery
  0x888e, // EAPOL (802.1X)
  0x8892, // PROFINET
  0x88cc, // LLDP
  0x88f7, // PTP
  0x8902, // 802.1ag connectivity fault management
  0x8906, // FCoE
  0x8914, // FCoE initialisation
  0x893a, // IEEE 1905.1
  0x9000, // Ethernet configuration testing (loopback)
]);

/** BSD loopback address families that mean IPv6 (Linux, NetBSD/OpenBSD, FreeBSD, Darwin, WinSock). */
function isInet6Family(family: number): boolean {
  return family === 10 || family === 24 || family === 28 || family === 30 || family === 23;
}

/**
 * Decodes the link-layer header of a packet in `view.buf` starting at `offset`. Returns the offset
 * of the IPv4 / IPv6 header (with `view.etherType` set to 0x0800 or 0x86dd), or a negative
 * `-Outcome` saying why the packet has no IP header to look at.
 */
export function decodeLinkLayer(view: PacketView, linkType: number, offset: number): number {
  const buf = view.buf;
  const end = view.capturedEnd;
  switch (linkType) {
    case LinkType.ethernet: {
      if (end - offset < 14) return truncated(view, 'Ethernet header');
      return decodeEthertype(view, buf.readUInt16BE(offset + 12), offset + 14);
    }
    case LinkType.linuxSll: {
      if (end - offset < 16) return truncated(view, 'Linux cooked (SLL) header');
      if (buf.readUInt16BE(offset + 2) === ARPHRD_NETLINK) return -Outcome.notIp;
      return decodeEthertype(view, buf.readUInt16BE(offset + 14), offset + 16);
    }
    case LinkType.linuxSll2: {
      if (end - offset < 20) return truncated(view, 'Linux cooked (SLL2) header');
      if (buf.readUInt16BE(offset + 8) === ARPHRD_NETLINK) return -Outcome.notIp;
      return decodeEthertype(view, buf.readUInt16BE(offset), offset + 20);
    }
    case LinkType.raw:
    case LinkType.rawBsd:
    case LinkType.rawOpenBsd:
    case LinkType.ipv4:
    case LinkType.ipv6:
      return decodeByVersion(view, offset);
    case LinkType.null:
    case LinkType.loop: {
      if (end - offset < 4) return truncated(view, 'loopback header');
      // DLT_NULL stores the family in the capturing host's byte order, LOOP in network order.
      // Families are small numbers, so whichever reading is small is the right one.
      let family = buf.readUInt32BE(offset);
      if (linkType === LinkType.null && family > 0xffff) family = buf.readUInt32LE(offset);
      view.etherType = family;
      if (family === 2) return decodeEthertype(view, ETHERTYPE_IPV4, offset + 4);
      if (isInet6Family(family)) return decodeEthertype(view, ETHERTYPE_IPV6, offset + 4);
      view.reason = 'loopback address family';
      return -Outcome.unsupportedEthertype;
    }
    default:
      return -Outcome.unsupportedLinkType;
  }
}

/** Follows 802.1Q / 802.1ad tags to the payload's ethertype. */
function decodeEthertype(view: PacketView, etherType: number, offset: number): number {
  const buf = view.buf;
  const end = view.capturedEnd;
  let type = etherType;
  let at = offset;
  while (type === ETHERTYPE_VLAN || type === ETHERTYPE_QINQ || type === ETHERTYPE_QINQ_OLD) {
    if (end - at < 4) return truncated(view, '802.1Q VLAN tag');
    type = buf.readUInt16BE(at + 2);
    at += 4;
  }
  view.etherType = type;
  if (type === ETHERTYPE_IPV4 || type === ETHERTYPE_IPV6) return at;
  // Below 0x0600 the field is an 802.3 length: LLC frames (STP, CDP, NetBIOS, ...).
  if (type < 0x0600 || NORMAL_NON_IP.has(type)) return -Outcome.notIp;
  if (type === ETHERTYPE_MACSEC) return -Outcome.encrypted;
  view.reason = 'ethertype';
  return -Outcome.unsupportedEthertype;
}

/** Raw IP link types: the version nibble says IPv4 or IPv6. */
function decodeByVersion(view: PacketView, offset: number): number {
  if (view.capturedEnd - offset < 1) return truncated(view, 'IP header');
  const version = (view.buf[offset] as number) >> 4;
  if (version === 4) return decodeEthertype(view, ETHERTYPE_IPV4, offset);
  if (version === 6) return decodeEthertype(view, ETHERTYPE_IPV6, offset);
  view.reason = 'raw IP packet with a version that is neither 4 nor 6';
  return -Outcome.malformed;
}

function truncated(view: PacketView, what: string): number {
  view.reason = what;
  return -Outcome.truncated;
}
