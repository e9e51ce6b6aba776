// A seeded generator of malformed HTTP/1.x request heads for fuzz tests: well-formed seed heads
// (absolute-form, CONNECT, bodies by length and chunked, HTTP/1.0) put through one to four
// mutations that parsers disagree on (bare CR / LF, NUL, obs-fold, whitespace around the colon,
// duplicate and conflicting framing, Connection naming framing, odd versions, truncation, random
// bytes). Same seed, same heads: a failure names its seed and index and can be replayed.
import { Random } from '../../util/random.js';

const seeds = [
  'GET http://api.powerbi.com/v1/x?y=1 HTTP/1.1\r\nHost: api.powerbi.com\r\nAccept: */*\r\n\r\n',
  'POST http://api.powerbi.com/a HTTP/1.1\r\nHost: api.powerbi.com\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\n',
  'PUT http://x.analysis.windows.net:80/p HTTP/1.1\r\nHost: x.analysis.windows.net\r\nTransfer-Encoding: chunked\r\n\r\n',
  'CONNECT app.powerbi.com:443 HTTP/1.1\r\nHost: app.powerbi.com:443\r\nProxy-Connection: keep-alive\r\n\r\n',
  'GET http://[::1]:80/ HTTP/1.0\r\nConnection: keep-alive\r\n\r\n',
  'HEAD http://127.0.0.1/ HTTP/1.1\r\nHost: 127.0.0.1\r\nProxy-Authorization: Basic YTpi\r\n\r\n',
];

/** Header lines that have caused disagreements between HTTP parsers. */
const nastyLines = [
  'Content-Length: 0',
  'Content-Length: 5',
  'Content-Length: 5, 5',
  'Content-Length: -1',
  'Content-Length: 0x10',
  'Content-Length: 99999999999999999999',
  'Content-Length : 5',
  ' Content-Length: 5',
  'Transfer-Encoding: chunked',
  'Transfer-Encoding: chunked, identity',
  'Transfer-Encoding: xchunked',
  'Transfer-Encoding:\tchunked',
  'Transfer-Encoding: chunked\u000b',
  'Connection: Content-Length',
  'Connection: close, Transfer-Encoding',
  'Proxy-Connection: content-length',
  'Connection: Host',
  'Host: evil.example',
  'Host:',
  'Expect: 100-continue',
  'Upgrade: h2c',
  'X-\u0000: y',
  'X: a\rb',
  'X: \u00ff\u00fe',
  ': no-name',
  'nocolon',
  '\t folded',
];

const insertBytes = [0x00, 0x09, 0x0a, 0x0d, 0x20, 0x3a, 0x7f, 0x80, 0xff, 0x2c, 0x3b];

type Mutation = (head: Buffer, random: Random) => Buffer;

const splice = (head: Buffer, at: number, remove: number, insert: Buffer) =>
  Buffer.concat([head.subarray(0, at), insert, head.subarray(at + remove)]);

/** Index just after a random CRLF of the head (a line start), never past the final empty line. */
function lineStart(head: Buffer, random: Random): number {
  const starts: number[] = [];
  for (let i = head.indexOf('\r\n'); i >= 0 && i + 2 < head.length - 1; i = head.indexOf('\r\n', i + 2)) {
    starts.push(i + 2);
  }
  return starts.length === 0 ? 0 : random.pick(starts);
}

const mutations: Mutation[] = [
  // flip one byte
  (head, random) => {
    const out = Buffer.from(head);
    const at = random.int(0, out.length - 1);
    out[at] = (out[at] as number) ^ (1 << random.int(0, 7));
    return out;
  },
  // insert a byte parsers treat specially
  (head, random) => splice(head, random.int(0, head.length), 0, Buffer.from([random.pick(insertBytes)])),
  // delete a run of bytes
  (head, random) => splice(head, random.int(0, head.length - 1), random.int(1, 4), Buffer.alloc(0)),
  // add a nasty header line
  (head, random) =>
    splice(head, lineStart(head, random), 0, Buffer.from(`${random.pick(nastyLines)}\r\n`, 'latin1')),
  // duplicate a header line
  (head, random) => {
    const at = lineStart(head, random);
    const end = head.indexOf('\r\n', at);
    return end <= at ? head : splice(head, at, 0, head.subarray(at, end + 2));
  },
  // CRLF -> bare LF or bare CR somewhere
  (head, random) => {
    const at = head.indexOf('\r\n', random.int(0, head.length - 1));
    return at < 0 ? head : splice(head, at, 2, Buffer.from(random.next() < 0.5 ? '\n' : '\r'));
  },
  // change the version
  (head, random) => {
    const text = head.toString('latin1');
    const version = random.pick([
      'HTTP/1.2',
      'HTTP/2.0',
      'HTTP/0.9',
      'http/1.1',
      'HTTP/1.1 ',
      'HTTP/11',
      'HTTP/1.',
    ]);
    return Buffer.from(text.replace(/HTTP\/1\.[01]/, version), 'latin1');
  },
  // truncate (an incomplete head)
  (head, random) => head.subarray(0, random.int(0, head.length - 1)),
  // a long run of one character
  (head, random) =>
    splice(
      head,
      random.int(0, head.length),
      0,
      Buffer.alloc(random.int(1, 300), random.pick([0x41, 0x20, 0x2f, 0x3a])),
    ),
  // random bytes
  (head, random) => {
    const bytes = Buffer.alloc(random.int(1, 16));
    for (let i = 0; i < bytes.length; i++) bytes[i] = random.int(0, 255);
    return splice(head, random.int(0, head.length), 0, bytes);
  },
];

/** `count` mutated heads from `seed`; most are malformed, a few stay valid (that is fine). */
export function* malformedHeads(seed: number, count: number): Generator<Buffer> {
  const random = new Random(seed);
  for (let i = 0; i < count; i++) {
    let head: Buffer = Buffer.from(random.pick(seeds), 'latin1');
    const rounds = random.int(1, 4);
    for (let round = 0; round < rounds && head.length > 0; round++)
      head = random.pick(mutations)(head, random);
    yield head;
  }
}
