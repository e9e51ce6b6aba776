// Demo DNS query logs: dnsmasq with `log-queries` (through syslog, as rsyslog writes it with
// RSYSLOG_FileFormat), whose reply lines teach the audit which name each address belongs to, and a BIND
// query log (`querylog yes`, channel with print-time / print-category / print-severity). DNS queries
// are flows with a name and no path evidence: unverified when a rule knows the name.

import type { Random } from '../../util/random.js';
import type { DemoFile } from './demo-file.js';
import { TextFile, type Timed, writeInTimeOrder } from './demo-file.js';
import {
  addresses,
  type DemoHost,
  demoStart,
  type Expected,
  resolver,
  unknown,
  unverified,
} from './network.js';

const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number) => String(n).padStart(2, '0');

/**
 * The time stamp rsyslog's RSYSLOG_FileFormat writes (`2026-11-23T08:00:01.000000+00:00`): unlike
 * dnsmasq's own log file (`Nov 23 08:00:01`) it has a year, so the demo reads the same every year.
 */
function rsyslogTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}.${String(ms % 1000).padStart(3, '0')}000+00:00`;
}

/** BIND's print-time stamp: `23-Nov-2026 08:00:01.123`. */
function bindTime(ms: number): string {
  const d = new Date(ms);
  return `${two(d.getUTCDate())}-${months[d.getUTCMonth()]}-${d.getUTCFullYear()} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}.${String(d.getUTCMilliseconds()).padStart(3, '0')}`;
}

export function dnsLogs(random: Random): DemoFile[] {
  const dnsmasqLookups: [DemoHost, Expected][] = [
    ['api.powerbi.com', unverified],
    ['app.powerbi.com', unverified],
    ['dc.services.visualstudio.com', unverified],
    ['dev.virtualearth.net', unverified],
    ['westeurope-redirect.pbidedicated.windows.net', unverified],
    ['login.microsoftonline.com', unverified],
    ['content.powerapps.com', unverified],
    ['cdn.example.net', unknown],
  ];
  const events: Timed[] = dnsmasqLookups.map(([name, expect], i) => {
    const time = demoStart + i * 23 * 60_000 + random.int(0, 59_000);
    const client = `10.1.1.${random.int(10, 40)}`;
    const pid = 812;
    return {
      time,
      write: (file) => {
        file.add(`${rsyslogTime(time)} gw01 dnsmasq[${pid}]: query[A] ${name} from ${client}`, expect);
        file.add(`${rsyslogTime(time)} gw01 dnsmasq[${pid}]: forwarded ${name} to ${resolver}`);
        file.add(`${rsyslogTime(time + 12)} gw01 dnsmasq[${pid}]: reply ${name} is ${addresses[name]}`);
      },
    };
  });
  const dnsmasq = new TextFile();
  writeInTimeOrder(dnsmasq, events);

  const bindLookups: [DemoHost, Expected][] = [
    ['api.powerbi.com', unverified],
    ['www.example.com', unknown],
    ['login.microsoftonline.com', unverified],
    ['wabi-west-europe-redirect.analysis.windows.net', unverified],
    ['cdn.example.net', unknown],
  ];
  const bind = new TextFile();
  bindLookups.forEach(([name, expect], i) => {
    const time = demoStart + i * 41 * 60_000 + random.int(0, 59_999);
    const client = `10.1.1.${random.int(10, 40)}`;
    const handle = `0x7f3a${(0x1c000 + i * 0x2a8).toString(16)}`;
    bind.add(
      `${bindTime(time)} queries: info: client @${handle} ${client}#${random.int(32768, 60999)} (${name}): query: ${name} IN A +E(0)K (${resolver})`,
      expect,
    );
  });

  return [
    {
      path: 'dns/dnsmasq.log',
      content: dnsmasq.toBuffer(),
      format: 'dns',
      description:
        'dnsmasq log-queries (query / forwarded / reply lines); the replies name addresses of flow-log records',
      expected: dnsmasq.expected,
    },
    {
      path: 'dns/named-queries.log',
      content: bind.toBuffer(),
      format: 'dns',
      description: 'BIND query log (print-time, category, severity)',
      expected: bind.expected,
    },
  ];
}
