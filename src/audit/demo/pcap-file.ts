// A demo packet capture from the egress link (classic pcap, Ethernet): TLS connections whose
// ClientHello carries the server name (one ClientHello split over two segments), one without SNI
// that a DNS response in the same capture names, and a plain HTTP request. The known leak: a TLS
// connection to a North Europe analysis host that left by the default path.

import type { Random } from '../../util/random.js';
import type { DemoFile, ExpectedRecord } from './demo-file.js';
import {
  addresses,
  demoStart,
  type Expected,
  exception,
  leak,
  ok,
  resolver,
  unknown,
  unverified,
} from './network.js';
import { dnsMessage, PcapWriter, tlsClientHello } from './pcap-writer.js';

export function pcapFile(random: Random): DemoFile {
  const pcap = new PcapWriter();
  const expected: ExpectedRecord[] = [];
  const client = '10.1.1.20';
  let time = demoStart + 150 * 60_000 + 125;
  const next = () => {
    time += random.int(150, 2_000);
    return time;
  };

  // A DNS lookup (query and response): its record is a flow with the query name, and its answer
  // names the later connection that sends no SNI.
  const telemetry = 'dc.services.visualstudio.com';
  const queryTime = next();
  const queryPacket = pcap.udp(
    queryTime,
    { ip: client, port: 53124 },
    { ip: resolver, port: 53 },
    dnsMessage(0x4d2a, telemetry, [], false),
  );
  pcap.udp(
    queryTime + 3,
    { ip: resolver, port: 53 },
    { ip: client, port: 53124 },
    dnsMessage(0x4d2a, telemetry, [addresses[telemetry]], true),
  );
  // A lookup goes to the resolver, not to the name's servers: classifyFlow never infers a path
  // for DNS records, so the lookup is unverified whatever the resolver's path.
  expected.push({ ...unverified, line: queryPacket });

  const tls = (sni: string | null, server: string, expect: Expected, split = false) => {
    const port = random.int(49152, 65000);
    const packet = pcap.connection(
      next(),
      { ip: client, port },
      { ip: server, port: 443 },
      tlsClientHello(sni, port),
      random.int(1_500, 9_000),
      { split },
    );
    expected.push({ ...expect, line: packet });
  };
  const north = 'wabi-north-europe-d-primary-redirect.analysis.windows.net';
  tls('api.powerbi.com', addresses['api.powerbi.com'], ok);
  tls(north, addresses[north], leak(north, 'default', 'service.backend-api'), true);
  tls('content.powerapps.com', addresses['content.powerapps.com'], exception);
  tls(null, addresses[telemetry], exception);

  const httpPort = random.int(49152, 65000);
  const request = Buffer.from(
    'GET /index.html HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n',
    'ascii',
  );
  const httpPacket = pcap.connection(
    next(),
    { ip: client, port: httpPort },
    { ip: addresses['www.example.com'], port: 80 },
    request,
    1_256,
    {
      filler: (length) => Buffer.alloc(length, 0x61),
    },
  );
  expected.push({ ...unknown, line: httpPacket });

  return {
    path: 'pcap/egress.pcap',
    content: pcap.toBuffer(),
    format: 'pcap',
    description:
      'classic pcap (Ethernet, IPv4): TLS with SNI (one ClientHello split over two segments), TLS without SNI named by a DNS response, plain HTTP',
    expected,
  };
}
