// SOCKS5 refusals get exactly one reply (issue 10, item 5): an unknown address type (9) used to be
// answered twice (0x08, then 0x01), which a client reads as the start of tunnel data.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestGateway, type TestGateway } from './testing/gateway-fixture.js';

/** Sends `request` after a no-auth greeting; everything the gateway sent until it closed. */
function exchange(port: number, request: number[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no close within 5 s; got ${Buffer.concat(chunks).toString('hex')}`));
    }, 5000);
    socket.on('connect', () => socket.write(Buffer.from([5, 1, 0, ...request])));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
  });
}

const reply = (code: number) => [5, code, 0, 1, 0, 0, 0, 0, 0, 0];

describe('SOCKS5 refusals: one reply each', () => {
  let gateway: TestGateway;
  let port: number;

  beforeAll(async () => {
    gateway = await startTestGateway({ socks: '127.0.0.1:0' });
    const address = gateway.socksAddress as string;
    port = Number(address.slice(address.lastIndexOf(':') + 1));
  });

  afterAll(async () => {
    await gateway?.close();
  });

  test.each([
    ['address type 9', [5, 1, 0, 9, 127, 0, 0, 1, 0, 80], 8, 'PW_GW_BAD_REQUEST'],
    ['address type 0', [5, 1, 0, 0, 127, 0, 0, 1, 0, 80], 8, 'PW_GW_BAD_REQUEST'],
    ['BIND', [5, 2, 0, 1, 127, 0, 0, 1, 0, 80], 7, 'PW_GW_UNSUPPORTED'],
    ['a request of version 4', [4, 1, 0, 1, 127, 0, 0, 1, 0, 80], 1, 'PW_GW_BAD_REQUEST'],
    ['a port outside `ports`', [5, 1, 0, 1, 127, 0, 0, 1, 0x1f, 0x90], 2, 'PW_GW_PORT_DENIED'],
  ])('%s: the method reply, then exactly one refusal', async (_name, request, code, error) => {
    const before = gateway.store.flows.length;
    const received = await exchange(port, request);
    expect([...received]).toEqual([5, 0, ...reply(code)]);
    await gateway.store.waitFor(before + 1);
    expect(gateway.store.flows.slice(before)).toMatchObject([{ error }]);
  });
});
