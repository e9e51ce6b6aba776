// The QUIC Initial reader against RFC 9001 Appendix A (keys, header protection, decryption of the
// sample client Initial), and CRYPTO frames split over packets and out of order.
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { cryptoFrame, sealClientInitial } from '../../test/fixtures/pcap/quic-writer.js';
import {
  ClientHelloAssembler,
  clientInitialKeys,
  cryptoFrames,
  InitialStatus,
  openClientInitial,
} from './quic-initial.js';
import { readClientHello, readClientHelloHandshake } from './tls-client-hello.js';

const hex = (name: string) =>
  Buffer.from(readFileSync(`test/fixtures/quic/${name}`, 'utf8').replace(/\s+/g, ''), 'hex');
const RFC_PACKET = hex('rfc9001-a2-client-initial.hex');
const RFC_CRYPTO_FRAME = hex('rfc9001-a2-crypto-frame.hex');
const RFC_DCID = Buffer.from('8394c8f03e515708', 'hex');
const RFC_CLIENT_HELLO = RFC_CRYPTO_FRAME.subarray(4);

/** A ClientHello handshake message as a TLS record, for the ClientHello scanner. */
function asRecord(handshake: Buffer): Buffer {
  const header = Buffer.from([22, 3, 1, 0, 0]);
  header.writeUInt16BE(handshake.length, 3);
  return Buffer.concat([header, handshake]);
}

describe('RFC 9001 Appendix A', () => {
  test('A.1: client Initial key, IV and header-protection key from the DCID', () => {
    const keys = clientInitialKeys(RFC_DCID);
    expect(keys.key.toString('hex')).toBe('1f369613dd76d5467730efcbe3b1a22d');
    expect(keys.iv.toString('hex')).toBe('fa044b2f42a3fd3b46fb255c');
    expect(keys.hp.toString('hex')).toBe('9f50449e04a0e810283a1e9933adedd2');
  });

  test('A.2: the sample client Initial opens: packet number 2, the CRYPTO frame, then padding', () => {
    expect(RFC_PACKET).toHaveLength(1200);
    const result = openClientInitial(RFC_PACKET, 0, RFC_PACKET.length);
    if ('failure' in result) throw new Error(result.failure);
    expect(result.packet.packetNumber).toBe(2);
    expect(result.packet.dcid).toEqual(RFC_DCID);
    expect(result.next).toBe(1200);
    expect(result.packet.payload).toHaveLength(1162);
    expect(result.packet.payload.subarray(0, RFC_CRYPTO_FRAME.length)).toEqual(RFC_CRYPTO_FRAME);
    expect(result.packet.payload.subarray(RFC_CRYPTO_FRAME.length).every((byte) => byte === 0)).toBe(true);
    expect(cryptoFrames(result.packet.payload)).toEqual([{ offset: 0, data: RFC_CLIENT_HELLO }]);
  });

  test('A.2 through the assembler and the existing ClientHello parser: SNI example.com', () => {
    const assembler = new ClientHelloAssembler();
    expect(assembler.add(RFC_PACKET, 0, RFC_PACKET.length)).toBe(InitialStatus.complete);
    const hello = assembler.clientHello() as Buffer;
    expect(hello).toEqual(RFC_CLIENT_HELLO);
    const record = asRecord(hello);
    expect(readClientHello(record)).toEqual({ kind: 'hello', sni: 'example.com' });
    expect(readClientHelloHandshake(hello)).toEqual({ kind: 'hello', sni: 'example.com' });
  });

  test('the test sealer reproduces the RFC packet byte for byte', () => {
    const sealed = sealClientInitial({
      dcid: RFC_DCID,
      packetNumber: 2,
      frames: RFC_CRYPTO_FRAME,
      size: 1200,
    });
    expect(sealed.toString('hex')).toBe(RFC_PACKET.toString('hex'));
  });

  test('a flipped bit fails authentication; cut packets and other versions are refused, never thrown', () => {
    const tampered = Buffer.from(RFC_PACKET);
    tampered[500] = (tampered[500] as number) ^ 1;
    expect(openClientInitial(tampered, 0, tampered.length)).toEqual({ failure: 'authentication failed' });
    expect(openClientInitial(RFC_PACKET, 0, 30)).toEqual({ failure: 'truncated' });
    const v2 = Buffer.from(RFC_PACKET);
    v2.writeUInt32BE(0x6b3343cf, 1);
    expect(openClientInitial(v2, 0, v2.length)).toEqual({ failure: 'not a version 1 Initial' });
    for (let cut = 0; cut < 1200; cut += 7) openClientInitial(RFC_PACKET, 0, cut);
    expect(new ClientHelloAssembler().add(Buffer.from('GET / HTTP/1.1\r\n'), 0, 16)).toBe(
      InitialStatus.notQuic,
    );
  });
});

describe('CRYPTO frames over several packets', () => {
  const dcid = Buffer.from('0011223344556677', 'hex');
  const hello = RFC_CLIENT_HELLO;

  test('split in three, sent out of order, with a later DCID (keys stay those of the first)', () => {
    const serverCid = Buffer.from('aabbccdd', 'hex');
    const first = sealClientInitial({
      dcid,
      packetNumber: 0,
      frames: cryptoFrame(100, hello.subarray(100, 200)),
      size: 1200,
    });
    const second = sealClientInitial({
      dcid: serverCid,
      keyDcid: dcid,
      packetNumber: 1,
      frames: Buffer.concat([
        Buffer.from([0x02, 0x00, 0x00, 0x00, 0x00]),
        cryptoFrame(200, hello.subarray(200)),
      ]),
      size: 1200,
    });
    const third = sealClientInitial({
      dcid: serverCid,
      keyDcid: dcid,
      packetNumber: 2,
      frames: cryptoFrame(0, hello.subarray(0, 100)),
      size: 1200,
    });
    const assembler = new ClientHelloAssembler();
    expect(assembler.add(first, 0, first.length)).toBe(InitialStatus.incomplete);
    expect(assembler.add(second, 0, second.length)).toBe(InitialStatus.incomplete);
    expect(assembler.add(third, 0, third.length)).toBe(InitialStatus.complete);
    expect(assembler.clientHello()).toEqual(hello);
  });

  test('two Initials coalesced in one datagram', () => {
    const a = sealClientInitial({ dcid, packetNumber: 0, frames: cryptoFrame(0, hello.subarray(0, 50)) });
    const b = sealClientInitial({
      dcid,
      packetNumber: 1,
      frames: cryptoFrame(50, hello.subarray(50)),
      size: 1200,
    });
    const datagram = Buffer.concat([a, b]);
    const assembler = new ClientHelloAssembler();
    expect(assembler.add(datagram, 0, datagram.length)).toBe(InitialStatus.complete);
    expect(assembler.clientHello()).toEqual(hello);
  });
});
