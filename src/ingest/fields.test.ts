// ipv4Value and ipv4Int32 (the byte readers of dotted quads the Squid and Zeek scanners use) against a reference
// written from its definition: four decimal octets of 0-255 without leading zeros, nothing else.
import { describe, expect, test } from 'vitest';
import { ipv4Int32, ipv4Value } from './fields.js';

function reference(text: string): number {
  const match = /^(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})$/.exec(
    text,
  );
  if (match === null) return -1;
  const octets = match.slice(1).map(Number);
  if (octets.some((octet) => octet > 255)) return -1;
  return octets.reduce((value, octet) => value * 256 + octet, 0);
}

/** ipv4Value of `text` inside other bytes (the scanners read fields in place). */
function readValue(text: string): number {
  const b = Buffer.from(`7${text}9`, 'latin1');
  const value = ipv4Value(b, 1, b.length - 1);
  // The int32 form: the same bits, NaN where ipv4Value says -1.
  const word = ipv4Int32(b, 1, b.length - 1);
  expect(value < 0 ? Number.isNaN(word) : word === (value | 0)).toBe(true);
  return value;
}

describe('ipv4Value', () => {
  test('reads dotted quads and refuses everything else, as the definition says', () => {
    const named = [
      '0.0.0.0',
      '255.255.255.255',
      '10.9.0.1',
      '13.73.248.9',
      '1.2.3.4',
      '',
      '.',
      '1.2.3',
      '1.2.3.4.',
      '.1.2.3.4',
      '1.2.3.4.5',
      '1..2.3',
      '01.2.3.4',
      '1.2.3.04',
      '1.2.3.00',
      '256.1.1.1',
      '1.1.1.256',
      '1.1.1.1000',
      '1.1.1.0255',
      '1.2.3.4 ',
      ' 1.2.3.4',
      '1.2.3.a',
      '1.2.3.4:80',
      '1:2:3:4',
      '2001:db8::1',
      '１.2.3.4',
    ];
    for (const text of named) expect(readValue(text), text).toBe(reference(text));
    expect(readValue('10.9.0.1')).toBe(0x0a090001);
    expect(readValue('255.255.255.255')).toBe(0xffffffff);
  });

  test('agrees with the reference on 50,000 generated texts near the edges', () => {
    const pieces = [
      '0',
      '1',
      '9',
      '00',
      '01',
      '10',
      '25',
      '99',
      '100',
      '199',
      '249',
      '255',
      '256',
      '300',
      '999',
      '1000',
      '.',
      '.',
      '.',
      'a',
      ':',
      '-',
      '/',
    ];
    let seed = 20261206;
    const next = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    let addresses = 0;
    for (let k = 0; k < 50_000; k++) {
      let text = '';
      if (k % 2 === 0) {
        // four octets, one of them sometimes bent
        const octets = [next(300), next(300), next(300), next(300)].map(String);
        if (next(4) === 0) octets[next(4)] = pieces[next(pieces.length)] as string;
        text = octets.join('.');
      } else {
        for (let j = 1 + next(9); j > 0; j--) text += pieces[next(pieces.length)];
      }
      const expected = reference(text);
      if (expected >= 0) addresses++;
      if (readValue(text) !== expected) expect(readValue(text), text).toBe(expected);
    }
    expect(addresses).toBeGreaterThan(5_000);
  });
});
