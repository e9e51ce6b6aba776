// The optional SOCKS5 listener: CONNECT by name or address, the same routing, SNI peek and records
// as HTTP CONNECT; username/password auth with the proxy users; refusals as SOCKS reply codes.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { curl } from './testing/clients.js';
import {
  CIRCUIT_SOURCE,
  INTERNET_SOURCE,
  startTestGateway,
  type TestGateway,
} from './testing/gateway-fixture.js';
import { type Origin, startTlsOrigin } from './testing/origins.js';

describe('SOCKS5', () => {
  let tls: Origin;
  let open: TestGateway;
  let authenticated: TestGateway;

  beforeAll(async () => {
    tls = await startTlsOrigin();
    open = await startTestGateway({ ports: [tls.port], socks: '127.0.0.1:0' });
    authenticated = await startTestGateway({
      ports: [tls.port],
      socks: '127.0.0.1:0',
      auth: { users: [{ name: 'analyst', password: 'pw' }] },
    });
  });

  afterAll(async () => {
    await open.close();
    await authenticated.close();
    await tls.close();
  });

  test('socks5h (name sent to the proxy) rides the catalog path; the SNI is read', async () => {
    const result = await curl([
      '-k',
      '-x',
      `socks5h://${open.socksAddress}`,
      `https://api.powerbi.com:${tls.port}/`,
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(`hello api.powerbi.com from ${CIRCUIT_SOURCE}`);
    const flow = await open.flowMatching((f) => f.host === 'api.powerbi.com' && f.sni === 'api.powerbi.com');
    expect(flow).toMatchObject({
      protocol: 'tls',
      egressPath: 'expressroute',
      outcome: 'forwarded',
      ruleId: 'service.backend-api',
    });
  });

  test('an IPv4 address outside the catalog goes out per decisions.unknown', async () => {
    const result = await curl([
      '-k',
      '-x',
      `socks5://${open.socksAddress}`,
      `https://127.0.0.1:${tls.port}/`,
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`from ${INTERNET_SOURCE}`);
  });

  test('refusals are SOCKS reply codes and recorded with the pathwarden code', async () => {
    const denied = await curl([
      '-k',
      '-x',
      `socks5h://${open.socksAddress}`,
      `https://169.254.169.254:${tls.port}/`,
    ]);
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toContain('(2)'); // SOCKS reply 2: connection not allowed by ruleset
    const flow = await open.flowMatching((f) => f.host === '169.254.169.254');
    expect(flow).toMatchObject({ outcome: 'denied', error: 'PW_GW_DESTINATION_DENIED' });
  });

  test('username/password authentication with the proxy users', async () => {
    const without = await curl([
      '-k',
      '-x',
      `socks5h://${authenticated.socksAddress}`,
      `https://api.powerbi.com:${tls.port}/`,
    ]);
    expect(without.code).not.toBe(0);
    const wrong = await curl([
      '-k',
      '-x',
      `socks5h://analyst:nope@${authenticated.socksAddress}`,
      `https://api.powerbi.com:${tls.port}/`,
    ]);
    expect(wrong.code).not.toBe(0);
    const right = await curl([
      '-k',
      '-x',
      `socks5h://analyst:pw@${authenticated.socksAddress}`,
      `https://api.powerbi.com:${tls.port}/`,
    ]);
    expect(right.code, right.stderr).toBe(0);
    expect(right.stdout).toBe(`hello api.powerbi.com from ${CIRCUIT_SOURCE}`);
    expect(authenticated.store.flows.some((f) => f.error === 'PW_GW_AUTH_REQUIRED')).toBe(true);
  });
});
