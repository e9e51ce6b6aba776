// The policy-routing script: snapshot and input checks (it is applied in netns.test.ts).
import { describe, expect, test } from 'vitest';
import { generateIproute } from './iproute.js';
import { builtinPolicy, exampleTopology } from './testing/fixtures.js';

const policy = builtinPolicy();
const example = exampleTopology();

describe('generate iproute', () => {
  test('matches the snapshot for the built-in catalog and examples/topology.yaml', async () => {
    await expect(generateIproute(policy, example, { via: '192.0.2.1', dev: 'er0' })).toMatchFileSnapshot(
      './__snapshots__/iproute-saas.sh',
    );
  });

  test('routes marked packets and circuit source addresses to the table, failing closed', () => {
    const text = generateIproute(policy, example, {
      via6: '2001:db8::1',
      fwmark: 0x20,
      table: 42,
      priority: 500,
    });
    expect(text).toContain('ip -4 rule add fwmark 0x20/0x20 lookup 42 priority 500');
    expect(text).toContain('ip -4 rule add from 10.20.0.5 lookup 42 priority 501');
    expect(text).toContain('ip -6 route replace default via 2001:db8::1 table 42');
    expect(text).toContain('ip -4 route replace unreachable default metric 4294967295 table 42');
    expect(text).not.toMatch(/ip -4 route replace default via/);
  });

  test('installs the unreachable route before any rule and never deletes a rule it keeps', () => {
    const text = generateIproute(policy, example, { via: '192.0.2.1', dev: 'er0' });
    const unreachable = text.indexOf('route replace unreachable default');
    expect(unreachable).toBeGreaterThan(0);
    expect(text.indexOf('rule add')).toBeGreaterThan(unreachable);
    expect(text.indexOf('route replace default via')).toBeGreaterThan(unreachable);
    // No flush, no delete-then-add: the only deletions are tagged rules and routes of earlier runs.
    expect(text).not.toMatch(/flush|rule del priority \d/);
    expect(text).toContain('ip -4 rule add fwmark 0x100/0x100 lookup 100 priority 1000 protocol 245');
    expect(text).toContain('ip -6 route del default table 100 proto 245');
  });

  test.each([
    [{}, /--via/],
    [{ via: '2001:db8::1' }, /--via "2001:db8::1" is not an IPv4 address/],
    [{ via: '192.0.2.1', dev: 'eth0; reboot' }, /--dev/],
  ])('refuses %j', (options, message) => {
    expect(() => generateIproute(policy, example, options)).toThrow(message);
  });
});
