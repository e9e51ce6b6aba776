// Reads one capture (classic pcap or pcapng) from a stream of chunks and yields its flow records:
// file reader -> link layer -> IP -> TCP / UDP -> flow table. Problems are reported through the
// ingest context; counters of everything skipped are published when the capture is done.
import { channel } from 'node:diagnostics_channel';
import type { Readable } from 'node:stream';
import type { FlowRecord } from '../../flow/record.js';
import type { IngestContext } from '../format.js';
import { errorMessage } from '../problems.js';
import { type CaptureCounters, CaptureProblems } from './capture-problems.js';
import { FlowTable, type FlowTableOptions } from './flow-table.js';
import { decodeIp } from './ip.js';
import { decodeLinkLayer } from './link-layer.js';
import type { PacketHandler } from './packet-handler.js';
import { Outcome, PacketView } from './packet-view.js';
import { isPcapMagic, PcapFileReader } from './pcap-file.js';
import { isPcapngMagic, PcapngReader } from './pcapng.js';
import { RecordStream } from './record-stream.js';
import { decapsulate, MAX_TUNNEL_DEPTH, mayBeTunnel, NOT_A_TUNNEL, TunnelKind } from './tunnel.js';

/** Published on `summaryChannel` when a capture has been read. */
export interface CaptureSummary {
  file: string;
  format: 'pcap' | 'pcapng' | null;
  /** Bytes of (decompressed) input read. */
  bytes: number;
  records: number;
  counters: CaptureCounters;
}

/** diagnostics_channel that receives a `CaptureSummary` per capture read. */
export const summaryChannel = channel('pathwarden:ingest:pcap:summary');

export type CaptureOptions = Omit<FlowTableOptions, 'file' | 'dns' | 'problems'> & {
  /** Called with the summary once the capture is read (tests, tools); it is also published. */
  onSummary?: (summary: CaptureSummary) => void;
  /** Problems of one kind listed one by one before the rest are only counted (default 20). */
  problemsPerKind?: number;
};

/** Decodes each packet and hands TCP / UDP ones to the flow table. */
class PacketDecoder implements PacketHandler {
  readonly #view = new PacketView();
  readonly #table: FlowTable;
  readonly #problems: CaptureProblems;

  constructor(table: FlowTable, problems: CaptureProblems) {
    this.#table = table;
    this.#problems = problems;
  }

  packet(
    linkType: number,
    buf: Buffer,
    offset: number,
    capturedLength: number,
    originalLength: number,
    timeMs: number,
    packetNumber: number,
  ): void {
    const view = this.#view;
    const counters = this.#problems.counters;
    counters.packets++;
    view.buf = buf;
    view.capturedEnd = offset + capturedLength;
    view.snapCut = capturedLength < originalLength;
    if (view.snapCut) counters.snapCut++;
    const ipOffset = decodeLinkLayer(view, linkType, offset);
    view.tunnelKind = TunnelKind.none;
    let outcome = ipOffset < 0 ? (-ipOffset as Outcome) : decodeIp(view, ipOffset, offset + originalLength);
    // Tunnelled traffic (VXLAN, GENEVE, GRE, ERSPAN): the inner packet is the flow to audit.
    for (let depth = 0; depth < MAX_TUNNEL_DEPTH && mayBeTunnel(view, outcome); depth++) {
      const inner = decapsulate(view);
      if (inner === NOT_A_TUNNEL) break;
      if (depth === 0) counters.tunnelled++;
      outcome = inner < 0 ? (-inner as Outcome) : decodeIp(view, inner, view.innerEnd);
    }
    if (outcome === Outcome.transport) {
      this.#table.packet(view, packetNumber, timeMs);
      return;
    }
    this.#skip(outcome, linkType, packetNumber, capturedLength, originalLength);
  }

  #skip(outcome: Outcome, linkType: number, packetNumber: number, captured: number, original: number): void {
    const problems = this.#problems;
    const counters = problems.counters;
    const view = this.#view;
    switch (outcome) {
      case Outcome.notIp:
        counters.notIp++;
        return;
      case Outcome.otherIpProtocol:
        counters.otherIpProtocol++;
        return;
      case Outcome.encrypted:
        counters.encrypted++;
        return;
      case Outcome.laterFragment:
        counters.laterFragment++;
        problems.once(
          'fragment',
          packetNumber,
          'IP fragments after the first are not reassembled and their bytes are not counted (UDP datagrams are counted whole from their first fragment); this is the first such packet',
        );
        return;
      case Outcome.unsupportedEthertype: {
        counters.unsupportedEthertype++;
        const what =
          view.reason === 'ethertype'
            ? `ethertype 0x${view.etherType.toString(16).padStart(4, '0')}`
            : `loopback address family ${view.etherType}`;
        problems.once(
          `ethertype:${view.reason}:${view.etherType}`,
          packetNumber,
          `${what} is not decoded (it may carry IP traffic): such packets are skipped; this is the first`,
        );
        return;
      }
      case Outcome.unsupportedLinkType:
        counters.unsupportedLinkType++;
        problems.once(
          `link:${linkType}`,
          packetNumber,
          `link type ${linkType} is not supported (Ethernet, Linux cooked SLL / SLL2, raw IP and null / loopback are): its packets are skipped; this is the first`,
        );
        return;
      case Outcome.truncated:
        counters.truncated++;
        if (problems.wants('truncated', packetNumber)) {
          problems.report(
            packetNumber,
            captured < original
              ? `packet captured only in part (${captured} of ${original} bytes): its ${view.reason} is cut off; skipped`
              : `packet of ${captured} bytes is too short for its ${view.reason}; skipped`,
          );
        }
        return;
      case Outcome.malformed:
        counters.malformed++;
        if (problems.wants('malformed', packetNumber)) {
          problems.report(packetNumber, `malformed packet: ${view.reason}; skipped`);
        }
        return;
    }
  }
}

/**
 * Streams the flow records of a capture in batches (those completed while one input chunk was
 * read). Never throws for bad content: problems go to `ctx.problem`, and what could be read is
 * kept. A failing input stream (e.g. a cut gzip file) is reported the same way.
 */
export async function* readCaptureBatches(
  input: Readable,
  ctx: IngestContext,
  options: CaptureOptions = {},
): AsyncGenerator<FlowRecord[]> {
  const problems = new CaptureProblems(ctx, options.problemsPerKind);
  const table = new FlowTable({ ...options, file: ctx.file, dns: ctx.dns, problems });
  const decoder = new PacketDecoder(table, problems);
  let stream: RecordStream | null = null;
  let format: CaptureSummary['format'] = null;
  let prefix = Buffer.alloc(0);
  let records = 0;
  let failed = false;
  try {
    for await (const piece of input) {
      let chunk: Buffer = typeof piece === 'string' ? Buffer.from(piece, 'latin1') : (piece as Buffer);
      if (stream === null) {
        // The magic number decides the reader; it may arrive split over tiny chunks.
        prefix = Buffer.concat([prefix, chunk]);
        if (prefix.length < 4) continue;
        if (isPcapMagic(prefix)) {
          format = 'pcap';
          stream = new RecordStream(new PcapFileReader(decoder, problems));
        } else if (isPcapngMagic(prefix)) {
          format = 'pcapng';
          stream = new RecordStream(new PcapngReader(decoder, problems));
        } else {
          problems.report(1, 'not a pcap or pcapng capture: unknown magic number');
          failed = true;
          break;
        }
        chunk = prefix;
        prefix = Buffer.alloc(0);
      }
      stream.push(chunk);
      const ready = table.take();
      if (ready.length > 0) {
        records += ready.length;
        yield ready;
      }
      if (stream.stopped) break;
    }
  } catch (error) {
    failed = true;
    problems.report(
      problems.counters.packets + 1,
      `reading the capture failed (${errorMessage(error)}); the flows read before are kept`,
    );
  }
  // An empty input holds no flows and nothing wrong (as with every other format); a few bytes that
  // cannot even hold a magic number are a cut or mistaken file.
  if (stream === null && !failed && prefix.length > 0) {
    problems.report(1, `capture too short: ${prefix.length} byte(s), not even a magic number`);
  }
  if (!failed) stream?.end();
  table.finish();
  problems.finish();
  const ready = table.take();
  if (ready.length > 0) {
    records += ready.length;
    yield ready;
  }
  const summary: CaptureSummary = {
    file: ctx.file,
    format,
    bytes: stream?.bytesRead ?? prefix.length,
    records,
    counters: problems.counters,
  };
  options.onSummary?.(summary);
  if (summaryChannel.hasSubscribers) summaryChannel.publish(summary);
}

/** The same flows one at a time. */
export async function* readCapture(
  input: Readable,
  ctx: IngestContext,
  options: CaptureOptions = {},
): AsyncGenerator<FlowRecord> {
  for await (const batch of readCaptureBatches(input, ctx, options)) yield* batch;
}
