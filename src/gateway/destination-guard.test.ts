import { describe, expect, test } from 'vitest';
import { type IpAddress, parseIp } from '../match/ip.js';
import { parseTarget, type Target } from '../policy/target.js';
import { DestinationGuard } from './destination-guard.js';
import { isGatewayError } from './errors.js';
import { HostResolver } from './host-resolver.js';

const guard = new DestinationGuard([]);

/** What the proxy does with a request authority: parse it (numeric forms included), then guard it. */
function verdictOf(authority: string, allow: DestinationGuard = guard): boolean {
  const target = parseTarget(authority) as Target;
  return allow.check(target.address as IpAddress).allowed;
}

describe('deny ranges', () => {
  test.each([
    '127.0.0.1',
    '127.1',
    '0x7f.1',
    '2130706433',
    '0177.0.0.1',
    '[::ffff:127.0.0.1]',
    '[::1]',
    '[::]',
    '0.0.0.0',
    '10.0.0.1',
    '172.16.5.4',
    '192.168.1.1',
    '100.64.0.1',
    '169.254.169.254',
    '169.254.1.1',
    '[fd00:ec2::254]',
    '[fe80::1]',
    '[fc00::1]',
    '224.0.0.1',
    '255.255.255.255',
    '240.0.0.1',
    '192.0.2.10',
    '[2001:db8::1]',
    '[64:ff9b::a00:1]',
    '[64:ff9b::7f00:1]',
    '[2002:a00:1::]',
    '[2002:7f00:1::1]',
    '[::7f00:1]',
    '[ff02::1]',
    '[2001::1]',
    '198.18.0.1',
  ])('%s is denied', (authority) => {
    expect(verdictOf(authority)).toBe(false);
  });

  test.each([
    '13.107.6.152',
    '[2603:1040:1503:1::3c0]',
    '[64:ff9b::d6b:698]',
    '[2002:d6b:698::1]',
    '8.8.8.8',
  ])('%s is allowed', (authority) => {
    expect(verdictOf(authority)).toBe(true);
  });

  test('numeric forms are read as the IPv4 address they stand for', () => {
    for (const form of ['127.1', '0x7f.1', '2130706433', '[::ffff:127.0.0.1]', '0x7f000001']) {
      expect((parseTarget(form) as Target).host, form).toBe('127.0.0.1');
    }
  });

  test('reasons name the range, and the embedded address for embedding forms', () => {
    expect(guard.check(parseIp('169.254.169.254') as IpAddress).reason).toBe(
      '169.254.169.254 (cloud metadata service)',
    );
    expect(guard.check(parseIp('64:ff9b::7f00:1') as IpAddress).reason).toBe(
      '64:ff9b::7f00:1 (NAT64 127.0.0.1, loopback)',
    );
  });

  test('allowDestinations exempts what it covers, embedded forms included', () => {
    const lab = new DestinationGuard(['127.0.0.0/8', 'fd00::/8']);
    expect(verdictOf('127.1', lab)).toBe(true);
    expect(verdictOf('[::ffff:127.0.0.2]', lab)).toBe(true);
    expect(verdictOf('[64:ff9b::7f00:1]', lab)).toBe(true);
    expect(verdictOf('[fd00:ec2::254]', lab)).toBe(true);
    expect(verdictOf('10.0.0.1', lab)).toBe(false);
    expect(verdictOf('169.254.169.254', lab)).toBe(false);
  });

  test('checkAll refuses a name when any one of its addresses is denied', () => {
    const addresses = ['13.107.6.152', '10.1.2.3'].map((text) => parseIp(text) as IpAddress);
    try {
      guard.checkAll('mixed.lab.test', addresses);
      throw new Error('not refused');
    } catch (error) {
      expect(isGatewayError(error) && error.code).toBe('PW_GW_DESTINATION_DENIED');
      expect((error as Error).message).toContain('mixed.lab.test resolves to 10.1.2.3 (private (RFC 1918))');
    }
  });
});

describe('resolving once', () => {
  test('the static map wins over DNS, exact over wildcard; DNS answers are all returned, unmapped', async () => {
    const asked: string[] = [];
    const resolver = new HostResolver(
      { '*.lab.test': '127.0.0.1', 'exact.lab.test': ['127.0.0.9', '::1'] },
      async (name) => {
        asked.push(name);
        return [{ address: '::ffff:10.0.0.1' }, { address: '2001:db8::5' }, { address: 'fe80::1%eth0' }];
      },
    );
    expect((await resolver.resolve('a.b.lab.test')).map((a) => a.bytes.join('.'))).toEqual(['127.0.0.1']);
    expect((await resolver.resolve('exact.lab.test')).length).toBe(2);
    const viaDns = await resolver.resolve('elsewhere.example');
    expect(viaDns.map((address) => address.version)).toEqual([4, 6]);
    expect(asked).toEqual(['elsewhere.example']);
  });

  test('a name without an answer is PW_GW_DNS_FAILED', async () => {
    const resolver = new HostResolver({}, async () => {
      throw Object.assign(new Error('nope'), { code: 'ENOTFOUND' });
    });
    await expect(resolver.resolve('nowhere.example')).rejects.toMatchObject({ code: 'PW_GW_DNS_FAILED' });
  });
});
