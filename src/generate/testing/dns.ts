// Programs for the namespace tests' DNS: a minimal upstream server that answers from a table, and
// a client that resolves names through dnsmasq and sends one UDP datagram to each answer. Both run
// inside a test's network namespace (`node program.mjs ...`), written to a file by the test.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Daemon, startDaemon, waitFor } from './processes.js';

/**
 * A DNS server on 127.0.0.1:argv[2] answering from the JSON table argv[3]: a name maps to its
 * addresses (A for IPv4, AAAA for IPv6), an `in-addr.arpa` name to its PTR target. Other
 * questions get NXDOMAIN; a known name without records of the asked type gets an empty answer.
 * It prints `query NAME TYPE` for every question, so that a test can tell cache hits from lookups.
 */
export const fakeUpstreamProgram = `
import { createSocket } from 'node:dgram';
import { isIPv4, isIPv6 } from 'node:net';
const table = JSON.parse(process.argv[3]);
const socket = createSocket('udp4');
const encodeName = (name) => Buffer.concat([...name.split('.').filter(Boolean).map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0])]);
const v6 = (text) => { const [head, tail = ''] = text.split('::'); const h = head ? head.split(':') : []; const t = tail ? tail.split(':') : []; const all = text.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h; return Buffer.from(all.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 255])); };
socket.on('message', (query, peer) => {
  let offset = 12;
  const labels = [];
  while (query[offset] !== 0) { labels.push(query.subarray(offset + 1, offset + 1 + query[offset]).toString()); offset += query[offset] + 1; }
  const question = query.subarray(12, offset + 5);
  const type = query.readUInt16BE(offset + 1);
  const name = labels.join('.').toLowerCase();
  console.log('query ' + name + ' ' + type);
  const entry = table[name];
  const values = entry === undefined ? [] : Array.isArray(entry) ? entry : [entry];
  const records = [];
  for (const value of values) {
    let data;
    if (type === 1 && isIPv4(value)) data = Buffer.from(value.split('.').map(Number));
    else if (type === 28 && isIPv6(value)) data = v6(value);
    else if (type === 12 && !isIPv4(value) && !isIPv6(value)) data = encodeName(value);
    else continue;
    const head = Buffer.from([0xc0, 0x0c, type >> 8, type & 255, 0, 1, 0, 0, 0, 60, data.length >> 8, data.length & 255]);
    records.push(head, data);
  }
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2);
  header.writeUInt16BE(entry === undefined ? 0x8183 : 0x8180, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(records.length / 2, 6);
  socket.send(Buffer.concat([header, question, ...records]), peer.port, peer.address);
});
socket.bind(Number(process.argv[2]), '127.0.0.1', () => console.log('ready'));
`;

/**
 * Resolves the names of argv[3] (IPv4) through the DNS server on 127.0.0.1:argv[2], sends one UDP
 * datagram to port 9 of each first answer, and prints {result, sent} as JSON.
 */
export const resolveAndSendProgram = `
import { Resolver } from 'node:dns/promises';
import { createSocket } from 'node:dgram';
const resolver = new Resolver();
resolver.setServers(['127.0.0.1:' + process.argv[2]]);
const result = {};
for (const name of JSON.parse(process.argv[3])) result[name] = (await resolver.resolve4(name))[0];
const socket = createSocket('udp4');
const sent = {};
for (const [name, address] of Object.entries(result)) {
  sent[name] = await new Promise((resolve) => socket.send('x', 9, address, (error) => resolve(error ? error.code : 'sent')));
}
socket.close();
console.log(JSON.stringify({ result, sent }));
`;

export interface NamespaceDns {
  /** dnsmasq's port on 127.0.0.1 inside the namespace. */
  port: number;
  upstream: Daemon;
  dnsmasq: Daemon;
  /** Questions the upstream has seen for `name` (any type). */
  upstreamQueries(name: string): number;
  stop(): Promise<void>;
}

/**
 * Starts the fake upstream (port 5300) and dnsmasq (port 5353) with `conf` inside namespace
 * `ns`; `cacheSize` 0 sends every question upstream, anything else lets dnsmasq answer from cache.
 */
export async function startNamespaceDns(
  ns: string,
  dir: string,
  answers: Record<string, string | string[]>,
  conf: string,
  cacheSize = 0,
): Promise<NamespaceDns> {
  const files = {
    upstream: join(dir, `${ns}-upstream.mjs`),
    conf: join(dir, `${ns}-dnsmasq.conf`),
    pid: join(dir, `${ns}-dnsmasq.pid`),
  };
  await writeFile(files.upstream, fakeUpstreamProgram);
  await writeFile(files.conf, conf);
  const exec = ['netns', 'exec', ns];
  const upstream = startDaemon('ip', [
    ...exec,
    process.execPath,
    files.upstream,
    '5300',
    JSON.stringify(answers),
  ]);
  const daemons: Daemon[] = [upstream];
  const stop = async () => {
    for (const daemon of daemons) await daemon.stop();
  };
  try {
    await waitFor(() => upstream.output().includes('ready'), 10_000, 'the fake upstream DNS server');
    const dnsmasq = startDaemon('ip', [
      ...exec,
      '/usr/sbin/dnsmasq',
      '--keep-in-foreground',
      '--log-facility=-',
      '--user=root',
      `--conf-file=${files.conf}`,
      '--no-resolv',
      '--no-hosts',
      '--server=127.0.0.1#5300',
      '--listen-address=127.0.0.1',
      '--bind-interfaces',
      '--port=5353',
      `--cache-size=${cacheSize}`,
      `--pid-file=${files.pid}`,
    ]);
    daemons.push(dnsmasq);
    await waitFor(() => dnsmasq.output().includes('started'), 10_000, `dnsmasq\n${dnsmasq.output()}`);
    return {
      port: 5353,
      upstream,
      dnsmasq,
      upstreamQueries: (name) =>
        upstream
          .output()
          .split('\n')
          .filter((line) => line.startsWith(`query ${name.toLowerCase()} `)).length,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
