// limits.idleReleaseMs: the quiet time the gateway hands to its idle release, and 0 for none. The
// watch itself is tested in idle-release.test.ts; here only what startGateway starts, spied on.
import { afterEach, describe, expect, test, vi } from 'vitest';
import { parseGatewayConfig } from './config.js';
import { startTestGateway } from './testing/gateway-fixture.js';

const started = vi.hoisted(() => ({ options: [] as { quietMs: number }[], stopped: 0 }));

vi.mock('./idle-release.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('./idle-release.js')>();
  return {
    ...original,
    startIdleRelease: (options: { quietMs: number }) => {
      started.options.push(options);
      return () => {
        started.stopped++;
      };
    },
  };
});

afterEach(() => {
  started.options.length = 0;
  started.stopped = 0;
});

describe('limits.idleReleaseMs', () => {
  test('defaults to a 6 s quiet spell', async () => {
    const gateway = await startTestGateway();
    try {
      expect(gateway.config.limits.idleReleaseMs).toBe(6000);
      expect(started.options.map((options) => options.quietMs)).toEqual([6000]);
    } finally {
      await gateway.close();
    }
    expect(started.stopped).toBe(1);
  });

  test('hands its quiet time to the watch', async () => {
    const gateway = await startTestGateway({ limits: { idleReleaseMs: 2500 } });
    try {
      expect(started.options.map((options) => options.quietMs)).toEqual([2500]);
    } finally {
      await gateway.close();
    }
  });

  test('0 starts no watch at all', async () => {
    const gateway = await startTestGateway({ limits: { idleReleaseMs: 0 } });
    await gateway.close();
    expect(started.options).toEqual([]);
  });

  test('a value between 0 and 1000 is refused with its location', () => {
    const yaml = [
      'listen: 127.0.0.1:3128',
      'egress:',
      '  expressroute: { localAddress: 127.0.0.2 }',
      '  internet: { localAddress: 127.0.0.3 }',
      'limits:',
      '  idleReleaseMs: 500',
      '',
    ].join('\n');
    expect(() => parseGatewayConfig(yaml, 'gw.yaml')).toThrow(
      expect.objectContaining({
        code: 'PW_ERR_CONFIG_INVALID',
        problems: [
          {
            message: 'must be 0 (never) or at least 1000',
            location: expect.objectContaining({ file: 'gw.yaml', line: 6, field: 'limits.idleReleaseMs' }),
          },
        ],
      }),
    );
  });
});
