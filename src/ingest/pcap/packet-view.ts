// The decoded headers of the packet being looked at. One instance is reused for every packet of a
// capture, so the per-packet hot path allocates nothing: decoders write offsets and numbers into it.

/** What decoding a packet led to. Everything but `transport` means the packet is not part of a flow. */
export const Outcome = {
  /** A TCP or UDP packet whose headers are all in `PacketView`. */
  transport: 0,
  /** Normal traffic that is not IP (ARP, LLDP, STP, ...): skipped silently, counted. */
  notIp: 1,
  /** IP, but neither TCP nor UDP (ICMP, IGMP, OSPF, GRE, ...): skipped silently, counted. */
  otherIpProtocol: 2,
  /** An IPv4 / IPv6 fragment other than the first: not reassembled, noted once, counted. */
  laterFragment: 3,
  /** IPsec ESP or MACsec: the inner traffic cannot be seen; skipped silently, counted. */
  encrypted: 4,
  /** An ethertype (or loopback address family) that may carry IP but is not decoded: reported. */
  unsupportedEthertype: 5,
  /** A link type this reader does not decode: reported once per link type. */
  unsupportedLinkType: 6,
  /** The headers needed are cut off (by the snapshot length, or a short frame): reported. */
  truncated: 7,
  /** Headers that contradict themselves (bad IP version, lengths): reported. */
  malformed: 8,
} as const;
export type Outcome = (typeof Outcome)[keyof typeof Outcome];

export const TCP = 6;
export const UDP = 17;

export class PacketView {
  /** Buffer holding the packet, and where its captured bytes end (exclusive). */
  buf: Buffer = Buffer.alloc(0);
  capturedEnd = 0;
  /** True when the capture cut the packet short (captured length < original length). */
  snapCut = false;
  /** Last ethertype seen (also the loopback family for null / loop link types). */
  etherType = 0;
  /** 4 or 6. */
  ipVersion = 4;
  /** Offsets of the source and destination addresses in `buf` (4 or 16 bytes each). */
  srcOffset = 0;
  dstOffset = 0;
  /** IP protocol number of the transport header (6 TCP, 17 UDP, ...). */
  protocol = 0;
  /** First fragment of a fragmented datagram (more fragments follow). */
  firstFragment = false;
  srcPort = 0;
  dstPort = 0;
  /** TCP only: flags byte, sequence and acknowledgement numbers. */
  tcpFlags = 0;
  seq = 0;
  ack = 0;
  /** Transport payload: offset in `buf`, length on the wire, and how much of it was captured. */
  payloadOffset = 0;
  payloadLength = 0;
  payloadCaptured = 0;
  /** Why decoding stopped, for problem messages (a constant string, never built per packet). */
  reason = '';
  /**
   * The outermost encapsulation the packet came in (tunnel.ts `TunnelKind`; 0 none), its VNI / key /
   * session id (-1 none) and outer addresses; `innerEnd` is where the inner packet ends on the wire.
   */
  tunnelKind = 0;
  tunnelId = -1;
  outerIpVersion = 4;
  outerSrcOffset = 0;
  outerDstOffset = 0;
  innerEnd = 0;
}
