// Loopback checks by parsing, not by prefix (issue 10, item 2): a name that starts like a loopback
// address (`127.evil.example`, `127.0.0.1.attacker.example`, `localhost.attacker.example`) is a
// name anyone's DNS can point anywhere, not a loopback address.
import { describe, expect, test } from 'vitest';
import { isLoopbackHost, isLoopbackHostPort, parseHostHeader } from './host-port.js';

describe('isLoopbackHost', () => {
  test.each([
    ['127.0.0.1', true],
    ['127.0.0.2', true],
    ['127.255.255.254', true],
    ['::1', true],
    ['[::1]', true],
    ['localhost', true],
    ['LocalHost', true],
    ['127.evil.example', false],
    ['127.0.0.1.attacker.example', false],
    ['localhost.attacker.example', false],
    ['127.0.0.1evil', false],
    ['128.0.0.1', false],
    ['0.0.0.0', false],
    ['::', false],
    ['[::1].evil', false],
    ['', false],
  ])('%j -> %s', (host, loopback) => {
    expect(isLoopbackHost(host)).toBe(loopback);
  });

  test('host:port forms', () => {
    expect(isLoopbackHostPort('127.0.0.1:9180')).toBe(true);
    expect(isLoopbackHostPort('[::1]:9180')).toBe(true);
    expect(isLoopbackHostPort('127.evil.example:9180')).toBe(false);
  });
});

describe('parseHostHeader', () => {
  test.each([
    ['127.0.0.1:9180', '127.0.0.1'],
    ['127.0.0.1', '127.0.0.1'],
    ['[::1]:9180', '::1'],
    ['[::1]', '::1'],
    ['LOCALHOST:9180', 'localhost'],
    ['127.0.0.1.attacker.example:9180', '127.0.0.1.attacker.example'],
  ])('%j -> %j', (header, host) => {
    expect(parseHostHeader(header)).toBe(host);
  });

  test.each([['127.0.0.1:'], ['127.0.0.1:x'], ['[::1'], ['[::1]x'], ['a b'], ['a:1:2'], ['']])(
    '%j is not a Host',
    (header) => {
      expect(parseHostHeader(header)).toBeNull();
    },
  );
});
