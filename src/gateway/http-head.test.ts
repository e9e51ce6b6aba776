import { describe, expect, test } from 'vitest';
import { isGatewayError } from './errors.js';
import {
  findHeadEnd,
  isHopByHop,
  parseRequestHead,
  parseResponseHead,
  splitAt,
  wantsKeepAlive,
} from './http-head.js';

function request(text: string) {
  const buffer = Buffer.from(text, 'latin1');
  const end = findHeadEnd(buffer);
  if (end < 0) throw new Error('incomplete head');
  return parseRequestHead(buffer, end);
}

function codeOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (isGatewayError(error)) return error.code;
    throw error;
  }
  return 'accepted';
}

describe('request heads', () => {
  test('absolute-form request with fields in order and framing', () => {
    const head = request(
      'POST http://api.powerbi.com/v1/x?y=1 HTTP/1.1\r\nHost: api.powerbi.com\r\nContent-Length: 5\r\nX-A:  b c \r\nConnection: keep-alive, X-A\r\n\r\n',
    );
    expect(head.method).toBe('POST');
    expect(head.target).toBe('http://api.powerbi.com/v1/x?y=1');
    expect(head.minor).toBe(1);
    expect(head.contentLength).toBe(5);
    expect(head.chunked).toBe(false);
    expect(head.host).toBe('api.powerbi.com');
    expect(head.fields.map((field) => [field.name, field.value])).toEqual([
      ['Host', 'api.powerbi.com'],
      ['Content-Length', '5'],
      ['X-A', 'b c'],
      ['Connection', 'keep-alive, X-A'],
    ]);
    expect(head.connectionTokens).toEqual(['keep-alive', 'x-a']);
    expect(isHopByHop(head.fields[2] as never, head.connectionTokens)).toBe(true);
    expect(isHopByHop(head.fields[1] as never, head.connectionTokens)).toBe(false);
  });

  test('CONNECT authority-form, chunked, HTTP/1.0 keep-alive and a leading empty line', () => {
    expect(request('CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n').target).toBe('[::1]:443');
    expect(request('PUT http://a/ HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n').chunked).toBe(
      true,
    );
    const old = request('\r\nGET http://a/ HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    expect(old.minor).toBe(0);
    expect(wantsKeepAlive(old)).toBe(true);
    expect(wantsKeepAlive(request('GET http://a/ HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'))).toBe(
      false,
    );
  });

  test.each([
    ['bare LF line ends', 'GET http://a/ HTTP/1.1\nHost: a\n\n', 'PW_GW_BAD_REQUEST'],
    ['a bare LF inside the head', 'GET http://a/ HTTP/1.1\r\nHost: a\nX: y\r\n\r\n', 'PW_GW_BAD_REQUEST'],
    ['obs-fold', 'GET http://a/ HTTP/1.1\r\nHost: a\r\nX: y\r\n  z\r\n\r\n', 'PW_GW_BAD_REQUEST'],
    ['space before the colon', 'GET http://a/ HTTP/1.1\r\nHost : a\r\n\r\n', 'PW_GW_BAD_REQUEST'],
    [
      'a header without a colon',
      'GET http://a/ HTTP/1.1\r\nHost: a\r\nnonsense\r\n\r\n',
      'PW_GW_BAD_REQUEST',
    ],
    ['a NUL in a value', 'GET http://a/ HTTP/1.1\r\nHost: a\r\nX: a\u0000b\r\n\r\n', 'PW_GW_BAD_REQUEST'],
    ['a CR in a value', 'GET http://a/ HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n', 'PW_GW_BAD_REQUEST'],
    ['two spaces in the request line', 'GET  http://a/ HTTP/1.1\r\nHost: a\r\n\r\n', 'PW_GW_BAD_REQUEST'],
    ['a lower-case version', 'GET http://a/ http/1.1\r\nHost: a\r\n\r\n', 'PW_GW_BAD_REQUEST'],
    ['non-ASCII in the target', 'GET http://a/\u00e9 HTTP/1.1\r\nHost: a\r\n\r\n', 'PW_GW_BAD_REQUEST'],
    ['HTTP/2.0', 'GET http://a/ HTTP/2.0\r\nHost: a\r\n\r\n', 'PW_GW_VERSION_UNSUPPORTED'],
    ['HTTP/1.2', 'GET http://a/ HTTP/1.2\r\nHost: a\r\n\r\n', 'PW_GW_VERSION_UNSUPPORTED'],
    ['no Host in HTTP/1.1', 'GET http://a/ HTTP/1.1\r\nX: y\r\n\r\n', 'PW_GW_BAD_REQUEST'],
    ['two Host headers', 'GET http://a/ HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 'PW_GW_BAD_REQUEST'],
    [
      'CL and TE',
      'POST http://a/ HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n',
      'PW_GW_BAD_FRAMING',
    ],
    [
      'TE and CL',
      'POST http://a/ HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n',
      'PW_GW_BAD_FRAMING',
    ],
    [
      'duplicate equal CL',
      'POST http://a/ HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n',
      'PW_GW_BAD_FRAMING',
    ],
    [
      'different CLs',
      'POST http://a/ HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n',
      'PW_GW_BAD_FRAMING',
    ],
    ['a CL list', 'POST http://a/ HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\n', 'PW_GW_BAD_FRAMING'],
    ['a signed CL', 'POST http://a/ HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\n', 'PW_GW_BAD_FRAMING'],
    [
      'TE gzip, chunked',
      'POST http://a/ HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n',
      'PW_GW_BAD_FRAMING',
    ],
    [
      'TE chunked twice',
      'POST http://a/ HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n',
      'PW_GW_BAD_FRAMING',
    ],
    [
      'TE with a stray character',
      'POST http://a/ HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\u000b\r\n\r\n',
      'PW_GW_BAD_REQUEST',
    ],
    ['TE in HTTP/1.0', 'POST http://a/ HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n', 'PW_GW_BAD_FRAMING'],
    [
      'Connection naming Content-Length',
      'POST http://a/ HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nConnection: Content-Length\r\n\r\n',
      'PW_GW_BAD_FRAMING',
    ],
    [
      'Connection naming Content-Length in a list',
      'POST http://a/ HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nConnection: keep-alive, content-length\r\n\r\n',
      'PW_GW_BAD_FRAMING',
    ],
    [
      'Connection naming Transfer-Encoding',
      'POST http://a/ HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: Transfer-Encoding\r\n\r\n',
      'PW_GW_BAD_FRAMING',
    ],
    [
      'Proxy-Connection naming Content-Length',
      'POST http://a/ HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nProxy-Connection: CONTENT-LENGTH\r\n\r\n',
      'PW_GW_BAD_FRAMING',
    ],
    [
      'Connection naming Content-Length with no body',
      'GET http://a/ HTTP/1.1\r\nHost: a\r\nConnection: Content-Length\r\n\r\n',
      'PW_GW_BAD_FRAMING',
    ],
  ])('rejects %s', (_name, text, code) => {
    expect(codeOf(() => request(text))).toBe(code);
  });

  test('findHeadEnd resumes where it stopped and finds the end across reads', () => {
    const text = Buffer.from('GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\nrest');
    let scanned = 0;
    for (let length = 1; length < text.length; length++) {
      const end = findHeadEnd(text.subarray(0, length), scanned);
      if (end > 0) {
        expect(end).toBe(text.indexOf('rest'));
        return;
      }
      scanned = length;
    }
    throw new Error('never found');
  });
});

describe('response heads', () => {
  const response = (text: string) => {
    const buffer = Buffer.from(text, 'latin1');
    return parseResponseHead(buffer, findHeadEnd(buffer, 0, 'response'));
  };

  test('status line with and without a reason', () => {
    expect(response('HTTP/1.1 204 No Content\r\n\r\n').status).toBe(204);
    expect(response('HTTP/1.0 200\r\nContent-Length: 0\r\n\r\n').minor).toBe(0);
  });

  test.each([
    ['HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n'],
    ['HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n'],
    ['HTTP/1.1 20 OK\r\n\r\n'],
    ['HTTP/1.1 200 OK\r\n folded\r\n\r\n'],
    ['HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: Content-Length\r\n\r\n'],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close, Transfer-Encoding\r\n\r\n'],
  ])('rejects %j as PW_GW_BAD_UPSTREAM_RESPONSE', (text) => {
    expect(codeOf(() => response(text))).toBe('PW_GW_BAD_UPSTREAM_RESPONSE');
  });
});

describe('splitAt', () => {
  test('gives what String.prototype.split gives', () => {
    const texts = [
      '',
      ',',
      ',,',
      'a',
      'a,',
      ',a',
      'a,,b',
      ' a , b ',
      '\r\n',
      '\r\n\r\n',
      'a\r\nb',
      '\r',
      '\n\r\n\r',
    ];
    // Random texts of the separators' characters and a few others, long runs included.
    let seed = 13;
    const next = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed;
    };
    for (let index = 0; index < 2000; index++) {
      let text = '';
      const length = next() % 24;
      for (let at = 0; at < length; at++) text += ',\r\nab '[next() % 6];
      texts.push(text);
    }
    for (const text of texts) {
      for (const separator of [',', '\r\n']) expect(splitAt(text, separator)).toEqual(text.split(separator));
    }
  });

  // It looped until memory ran out (review, session 13).
  test('refuses an empty separator', () => {
    expect(() => splitAt('ab', '')).toThrow(RangeError);
  });
});
