import { describe, expect, test } from 'vitest';
import { collectFile, collectFlows } from './collect.js';
import { dnsFormat, lineTime } from './dns-log.js';
import { fixture, sample } from './test-files.js';

describe('dns: BIND / Infoblox sample (elastic/integrations infoblox_nios test-dns.log)', async () => {
  const { flows, problems, dns } = await collectFile(dnsFormat, sample('bind-queries.log'));

  test('11 queries (12 "query:" lines, one CHAOS); non-query named lines skipped without problems', () => {
    expect(problems).toEqual([]);
    expect(flows.map((flow) => flow.origin.line)).toEqual([1, 2, 3, 4, 5, 7, 22, 23, 25, 26, 27]);
    expect(flows.every((flow) => flow.origin.kind === 'bind' && flow.protocol === 'dns')).toBe(true);
    expect(flows.every((flow) => flow.destination === null && flow.port === null)).toBe(true);
  });

  test('Infoblox response line: BIND time stamp, client, query name', () => {
    expect(flows[0]).toEqual({
      start: Date.UTC(2022, 3, 7, 8, 8, 10, 43),
      end: null,
      origin: { kind: 'bind', file: sample('bind-queries.log'), line: 1 },
      client: '192.168.0.1',
      host: 'a1.foo.com',
      sni: null,
      httpHost: null,
      destination: null,
      port: null,
      protocol: 'dns',
      component: null,
      bytesUp: null,
      bytesDown: null,
      sourceAddress: null,
      upstream: null,
      connectionId: null,
      actualPath: 'unknown',
      actualPathEvidence: null,
    });
  });

  test('classic query-log lines, with and without view, and syslog-only times', () => {
    expect(flows[5]).toMatchObject({ host: 'config.nos-avg.cz', client: '192.168.0.1' });
    const march9 = new Date(flows[5]?.start as number);
    expect([march9.getUTCMonth(), march9.getUTCDate(), march9.getUTCHours(), march9.getUTCSeconds()]).toEqual(
      [2, 9, 23, 59],
    );
    expect(flows[6]).toMatchObject({
      host: 'settings-win.data.microsoft.com',
      client: '192.168.1.90',
      start: Date.UTC(2022, 3, 14, 16, 17, 20, 46),
    });
    expect(flows[7]).toMatchObject({ host: 'ocsp.digicert.com', client: '192.168.1.90' });
    expect(flows[8]).toMatchObject({
      host: '89.160.20.128.a1.foo.com',
      client: '89.160.20.128',
      start: Date.UTC(2022, 9, 4, 10, 18, 7, 834),
    });
    expect(flows[9]).toMatchObject({
      host: 'settings-win.data.microsoft.com',
      start: Date.UTC(2023, 4, 9, 11, 54, 36, 185),
    });
    expect(flows[10]).toMatchObject({ host: 'abugtera.tun.p2.42', client: '89.160.20.128' });
  });

  test('A answers of response lines link addresses to the query (0.0.0.0 and non-addresses not)', () => {
    expect(dns.nameOf('192.168.0.2')).toBe('a1.foo.com');
    expect(dns.nameOf('192.168.0.3')).toBe('a1.foo.com'); // a2.foo.com first, a1.foo.com last
    expect(dns.nameOf('0.0.0.0')).toBeUndefined();
    expect(dns.size).toBe(2);
  });
});

describe('dns: dnsmasq log-queries (fixture from dnsmasq cache.c log_query formats)', async () => {
  const { flows, problems, dns } = await collectFile(dnsFormat, fixture('dnsmasq-queries.log'));

  test('11 queries; start-up, forwarded, reply and DHCP lines are no records; 1 bad client', () => {
    expect(flows.map((flow) => flow.origin.line)).toEqual([5, 11, 14, 17, 19, 21, 24, 27, 28, 30, 35]);
    expect(flows.map((flow) => flow.host)).toEqual([
      'app.powerbi.com',
      'app.powerbi.com',
      'api.powerbi.com',
      'gateway.corp.local',
      'ads.tracker.example',
      'nx.example',
      'content.powerapps.com',
      'svc.example',
      'dc.services.visualstudio.com',
      'login.microsoftonline.com',
      'realtime.powerbi.com',
    ]);
    expect(problems).toEqual([
      { line: 33, message: expect.stringContaining('not-an-address'), field: 'client' },
    ]);
  });

  test('fields', () => {
    expect(flows[0]).toMatchObject({
      origin: { kind: 'dnsmasq' },
      client: '10.20.0.15',
      protocol: 'dns',
      destination: null,
    });
    const first = new Date(flows[0]?.start as number);
    expect([first.getUTCMonth(), first.getUTCDate(), first.getUTCHours(), first.getUTCSeconds()]).toEqual([
      2, 1, 10, 1,
    ]);
    expect(flows[8]).toMatchObject({ client: 'fd00::15' });
    expect(flows[9]).toMatchObject({ client: '10.20.0.19' });
    expect(flows[10]).toMatchObject({ start: Date.UTC(2024, 2, 1, 10, 0, 11, 250) });
  });

  test('answers: a CNAME chain is linked to the name asked for; sinkholes and NXDOMAIN are not', () => {
    expect(dns.nameOf('13.73.248.8')).toBe('app.powerbi.com');
    expect(dns.nameOf('13.73.248.9')).toBe('app.powerbi.com');
    expect(dns.nameOf('13.73.248.4')).toBe('api.powerbi.com');
    expect(dns.nameOf('10.20.0.1')).toBe('gateway.corp.local');
    expect(dns.nameOf('20.50.88.235')).toBe('dc.services.visualstudio.com');
    expect(dns.nameOf('20.190.160.1')).toBe('login.microsoftonline.com');
    expect(dns.size).toBe(6);
  });

  test('two answers in a row for different names are not chained', async () => {
    const text = [
      'Mar  1 10:00:01 dnsmasq[1]: reply a.example is 192.0.2.1',
      'Mar  1 10:00:01 dnsmasq[1]: reply b.example is 192.0.2.2',
    ].join('\n');
    const { dns: pairs } = await collectFlows(dnsFormat, text);
    expect(pairs.nameOf('192.0.2.2')).toBe('b.example');
  });
});

describe('dns: line times', () => {
  const now = Date.UTC(2024, 0, 15, 12, 0, 0);
  test('syslog time without a year: this year, or last year when it would be in the future', () => {
    expect(lineTime('Jan 14 10:00:00 host dnsmasq[1]: x', now)).toBe(Date.UTC(2024, 0, 14, 10, 0, 0));
    expect(lineTime('Dec 31 23:59:59 host dnsmasq[1]: x', now)).toBe(Date.UTC(2023, 11, 31, 23, 59, 59));
    expect(lineTime('<30>Jan  2 01:02:03 host named[1]: x', now)).toBe(Date.UTC(2024, 0, 2, 1, 2, 3));
  });
  test('BIND stamp wins over the syslog one; ISO and RFC 5424 starts', () => {
    expect(lineTime('<30>Mar 11 23:51:31 h named[1]: 07-Apr-2022 08:08:10.043 client x', now)).toBe(
      Date.UTC(2022, 3, 7, 8, 8, 10, 43),
    );
    expect(lineTime('2024-01-01T00:00:00.5+01:00 h dnsmasq[1]: x', now)).toBe(
      Date.UTC(2023, 11, 31, 23, 0, 0, 500),
    );
    expect(lineTime('<30>1 2024-01-01T00:00:00Z h named 1 - - x', now)).toBe(Date.UTC(2024, 0, 1));
    expect(lineTime('no time here', now)).toBeNull();
  });
});
