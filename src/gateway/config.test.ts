// The gateway config's use of the loopback check (src/util/host-port.ts): an admin address that
// only looks like loopback by its first characters needs a token like any other.
import { describe, expect, test } from 'vitest';
import { parseGatewayConfig } from './config.js';

describe('admin address validation', () => {
  test('admin: 127.evil.example:9180 without a token is a problem', () => {
    const yaml = [
      'listen: 127.0.0.1:3128',
      'admin: 127.evil.example:9180',
      'egress:',
      '  expressroute: { localAddress: 127.0.0.2 }',
      '  internet: { localAddress: 127.0.0.3 }',
      '',
    ].join('\n');
    expect(() => parseGatewayConfig(yaml, 'gw.yaml')).toThrow(
      expect.objectContaining({
        code: 'PW_ERR_CONFIG_INVALID',
        problems: [expect.objectContaining({ message: expect.stringContaining('not a loopback address') })],
      }),
    );
  });
});
