import { describe, expect, test } from 'vitest';
import { addressBytes, dnsMessage, dnsName, pointer } from '../../test/fixtures/pcap/capture-writer.js';
import { addressesOf, parseDnsMessage, readName } from './dns.js';

const HEADER = Buffer.alloc(12);

describe('readName', () => {
  test('labels, compression pointers, the root', () => {
    const message = Buffer.concat([
      HEADER,
      dnsName('api.powerbi.com'),
      Buffer.from([3]),
      Buffer.from('www'),
      pointer(16),
      Buffer.from([0]),
    ]);
    expect(readName(message, 0, message.length, 12)).toBe('api.powerbi.com');
    expect(readName(message, 0, message.length, 29)).toBe('www.powerbi.com');
    expect(readName(message, 0, message.length, message.length - 1)).toBe('');
  });

  test.each([
    ['a pointer to itself', Buffer.concat([HEADER, pointer(12)]), 'compression pointer loop'],
    [
      'two pointers to each other',
      Buffer.concat([HEADER, pointer(14), pointer(12)]),
      'compression pointer loop',
    ],
    [
      'a label then a loop',
      Buffer.concat([HEADER, Buffer.from([1, 0x61]), pointer(12)]),
      'compression pointer loop',
    ],
    [
      'a name over 255 bytes',
      Buffer.concat([
        HEADER,
        ...Array.from({ length: 5 }, () => Buffer.from([63, ...Buffer.alloc(63, 0x61)])),
        Buffer.from([0]),
      ]),
      'name longer than 255 bytes',
    ],
    [
      'a pointer outside the message',
      Buffer.concat([HEADER, pointer(400)]),
      'compression pointer outside the message',
    ],
    [
      'a label past the end',
      Buffer.concat([HEADER, Buffer.from([10, 0x61])]),
      'label runs past the end of the message',
    ],
    [
      'no terminating zero',
      Buffer.concat([HEADER, Buffer.from([1, 0x61])]),
      'name runs past the end of the message',
    ],
    ['an extended label type', Buffer.concat([HEADER, Buffer.from([0x41, 0])]), 'unsupported label type'],
  ])('%s is refused', (_name, message, reason) => {
    expect(readName(message, 0, message.length, 12)).toBeNull();
    const parsed = parseDnsMessage(
      Buffer.concat([message.subarray(0, 4), Buffer.from([0, 1, 0, 0]), message.subarray(8)]),
      0,
      message.length,
    );
    expect(parsed?.error).toBe(`question: ${reason}`);
  });
});

describe('parseDnsMessage', () => {
  test('a response with a CNAME chain: addresses are attributed to the question name', () => {
    const message = dnsMessage({
      id: 7,
      response: true,
      question: dnsName('content.powerapps.com'),
      answers: [
        { name: pointer(12), type: 5, data: dnsName('cdn.powerapps.example') },
        { name: dnsName('cdn.powerapps.example'), type: 1, data: addressBytes('192.0.2.80') },
        { name: dnsName('unrelated.example'), type: 28, data: addressBytes('2001:db8::1') },
        { name: pointer(12), type: 16, data: Buffer.from('\u0005hello') }, // TXT: ignored
      ],
    });
    const parsed = parseDnsMessage(message, 0, message.length);
    expect(parsed).toMatchObject({
      id: 7,
      response: true,
      rcode: 0,
      questionName: 'content.powerapps.com',
      questionType: 1,
      error: null,
    });
    expect(parsed?.answers.map((answer) => [answer.name, answer.type, answer.data])).toEqual([
      ['content.powerapps.com', 5, 'cdn.powerapps.example'],
      ['cdn.powerapps.example', 1, '192.0.2.80'],
      ['unrelated.example', 28, '2001:db8::1'],
    ]);
    expect([...addressesOf(parsed as NonNullable<typeof parsed>)]).toEqual([
      ['content.powerapps.com', '192.0.2.80'],
      ['unrelated.example', '2001:db8::1'],
    ]);
  });

  test('short or lying messages', () => {
    expect(parseDnsMessage(Buffer.alloc(11), 0, 11)).toBeNull();
    const header = Buffer.alloc(12);
    header.writeUInt16BE(0x8180, 2);
    header.writeUInt16BE(0, 4);
    header.writeUInt16BE(500, 6); // 500 answers in a 12-byte message
    expect(parseDnsMessage(header, 0, 12)?.error).toBe('fewer answers than the header says');
    const message = dnsMessage({
      id: 1,
      response: true,
      question: dnsName('a.example'),
      answers: [{ name: pointer(12), type: 1, data: addressBytes('10.0.0.1') }],
    });
    expect(parseDnsMessage(message, 0, message.length - 2)?.error).toBe(
      'answer data runs past the end of the message',
    );
  });

  test('random bytes never throw: each message is read whole or stops with a reason', () => {
    let seed = 99;
    let stopped = 0;
    for (let round = 0; round < 3000; round++) {
      const message = Buffer.alloc(12 + (round % 200));
      for (let i = 0; i < message.length; i++) {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        message[i] = (seed >> 8) & 0xff;
      }
      const parsed = parseDnsMessage(message, 0, message.length);
      // Every message has a header's worth of bytes, so it is always parsed (never null).
      expect(parsed).not.toBeNull();
      if (parsed?.error) stopped++;
      for (const [name, address] of addressesOf(parsed as NonNullable<typeof parsed>)) {
        expect(typeof name).toBe('string');
        expect(address.length).toBeGreaterThan(0);
      }
    }
    // Random counts claim records the bytes do not hold: most messages must stop with a reason.
    expect(stopped).toBeGreaterThan(1500);
  });
});
