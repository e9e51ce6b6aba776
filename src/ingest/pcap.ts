// Ingest format for packet captures: classic libpcap and pcapng files, read as a stream. The
// reader lives in ./pcap/ (file formats, link layer, IP, TCP reassembly, TLS, HTTP, DNS, flows);
// docs/pcap.md says what becomes a flow and what is skipped. The reader is loaded when a capture
// is read: detecting the format needs only the two magic checks, so a log audit does not load it.
import { defineFormat } from './batches.js';
import { isPcapMagic } from './pcap/pcap-file.js';
import { isPcapngMagic } from './pcap/pcapng.js';

export const pcapFormat = defineFormat({
  name: 'pcap',
  description:
    'Packet captures (pcap, pcapng): one flow per TCP connection / UDP conversation with TLS SNI, HTTP Host and bytes; DNS answers',
  sniff(head: Buffer): number {
    return isPcapMagic(head) || isPcapngMagic(head) ? 1 : 0;
  },
  async *parseBatches(input, ctx) {
    const { readCaptureBatches } = await import('./pcap/capture.js');
    yield* readCaptureBatches(input, ctx);
  },
});
