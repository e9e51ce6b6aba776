import { describe, expect, test } from 'vitest';
import { loadBuiltinCatalog } from '../catalog/load.js';
import { type IpAddress, parseIp } from '../match/ip.js';
import { Policy } from '../policy/policy.js';
import { parseTarget, type Target } from '../policy/target.js';
import { gatewayConfigSchema } from './config.js';
import { chooseEgress, decideDestination } from './egress.js';
import { isGatewayError } from './errors.js';

const policy = Policy.compile(loadBuiltinCatalog().catalog);
const defaults = gatewayConfigSchema.parse({
  listen: '127.0.0.1:0',
  egress: { expressroute: { direct: true }, internet: { direct: true } },
}).decisions;

function egressOf(
  host: string,
  component = 'saas' as const,
  decisions = defaults,
  addresses: string[] = ['13.107.6.152'],
) {
  const target = parseTarget(host) as Target;
  const resolved = target.address ? [target.address] : addresses.map((text) => parseIp(text) as IpAddress);
  const { decision } = decideDestination(policy, target, resolved, component, 443);
  try {
    return chooseEgress(decision, decisions);
  } catch (error) {
    if (isGatewayError(error)) return error.code;
    throw error;
  }
}

describe('the egress decision table', () => {
  test('expressroute -> circuit, internet -> Internet', () => {
    expect(egressOf('api.powerbi.com')).toBe('expressroute');
    expect(egressOf('x.pbidedicated.windows.net')).toBe('expressroute');
    expect(egressOf('maxcdn.bootstrapcdn.com')).toBe('internet');
  });

  test('either follows decisions.either', () => {
    expect(egressOf('app.powerbi.com')).toBe('expressroute');
    expect(egressOf('app.powerbi.com', 'saas', { ...defaults, either: 'internet' })).toBe('internet');
  });

  test('unknown follows decisions.unknown', () => {
    expect(egressOf('www.example.org')).toBe('internet');
    expect(egressOf('www.example.org', 'saas', { ...defaults, unknown: 'deny' })).toBe(
      'PW_GW_UNKNOWN_DENIED',
    );
  });

  test('not-covered (mobile) follows decisions.notCovered', () => {
    expect(egressOf('api.powerbi.com', 'mobile' as never)).toBe('PW_GW_NOT_COVERED_DENIED');
    expect(egressOf('api.powerbi.com', 'mobile' as never, { ...defaults, notCovered: 'expressroute' })).toBe(
      'expressroute',
    );
    expect(egressOf('api.powerbi.com', 'mobile' as never, { ...defaults, notCovered: 'internet' })).toBe(
      'internet',
    );
  });

  test('a name outside the catalog that resolves into the PowerBI service tag rides the circuit', () => {
    const tagged = policy.catalog.rules.find((rule) => rule.id === 'service.powerbi-servicetag')
      ?.prefixes?.[0];
    const address = (tagged as string).split('/')[0] as string;
    expect(egressOf('backend.example.org', 'saas', { ...defaults, unknown: 'deny' }, [address])).toBe(
      'expressroute',
    );
    expect(egressOf(address.includes(':') ? `[${address}]` : address)).toBe('expressroute');
  });
});
