// Demo Squid access logs in the native format (`logformat squid`):
//   %ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt
// Circuit-bound CONNECTs go to the circuit proxy (FIRSTUP_PARENT/10.9.0.1), exceptions to the
// Internet proxy or straight out (HIER_DIRECT/<origin address>). The known leaks: a CONNECT to
// api.powerbi.com handed to the Internet proxy, one to a North Europe analysis host sent direct,
// and (in the rotated, gzipped log) credentials to login.microsoftonline.com over the Internet.
import { gzipSync } from 'node:zlib';
import type { Random } from '../../util/random.js';
import type { DemoFile } from './demo-file.js';
import { TextFile, type Timed, writeInTimeOrder } from './demo-file.js';
import {
  addresses,
  circuitProxy,
  type DemoHost,
  demoStart,
  type Expected,
  exception,
  internetProxy,
  leak,
  ok,
  unknown,
  unverified,
} from './network.js';

interface SquidRequest {
  time: number;
  client: string;
  code: string;
  bytes: number;
  method: string;
  url: string;
  hierarchy: string;
  type: string;
}

function squidLine(request: SquidRequest, elapsed: number): string {
  const seconds = (request.time / 1000).toFixed(3);
  return `${seconds} ${String(elapsed).padStart(6)} ${request.client} ${request.code} ${request.bytes} ${request.method} ${request.url} - ${request.hierarchy} ${request.type}`;
}

type Route = 'circuit' | 'internet' | 'direct' | 'denied';

function hierarchy(route: Route, host: DemoHost): string {
  switch (route) {
    case 'circuit':
      return `FIRSTUP_PARENT/${circuitProxy}`;
    case 'internet':
      return `FIRSTUP_PARENT/${internetProxy}`;
    case 'direct':
      return `HIER_DIRECT/${addresses[host]}`;
    default:
      return 'HIER_NONE/-';
  }
}

function connect(random: Random, time: number, host: DemoHost, route: Route, expect: Expected): Timed {
  const denied = route === 'denied';
  const request: SquidRequest = {
    time,
    client: `10.1.1.${random.int(10, 40)}`,
    code: denied ? 'TCP_DENIED/403' : 'TCP_TUNNEL/200',
    bytes: denied ? 3870 : random.int(4_000, 2_500_000),
    method: 'CONNECT',
    url: `${host}:443`,
    hierarchy: hierarchy(route, host),
    type: denied ? 'text/html' : '-',
  };
  const elapsed = random.int(40, 90_000);
  return { time, write: (file) => file.add(squidLine(request, elapsed), expect) };
}

function get(random: Random, time: number, host: DemoHost, path: string, expect: Expected): Timed {
  const request: SquidRequest = {
    time,
    client: `10.1.1.${random.int(10, 40)}`,
    code: 'TCP_MISS/200',
    bytes: random.int(2_000, 90_000),
    method: 'GET',
    url: `http://${host}${path}`,
    hierarchy: hierarchy('direct', host),
    type: 'application/javascript',
  };
  const elapsed = random.int(20, 900);
  return { time, write: (file) => file.add(squidLine(request, elapsed), expect) };
}

/** A time in the demo morning (08:00-12:00 UTC), to the millisecond. */
function morning(random: Random): number {
  return demoStart + random.int(0, 4 * 3600 * 1000 - 1);
}

export function squidLogs(random: Random): DemoFile[] {
  const events: Timed[] = [];
  const repeat = (count: number, make: () => Timed) => {
    for (let i = 0; i < count; i++) events.push(make());
  };
  repeat(14, () => connect(random, morning(random), 'api.powerbi.com', 'circuit', ok));
  repeat(6, () =>
    connect(random, morning(random), 'wabi-west-europe-redirect.analysis.windows.net', 'circuit', ok),
  );
  repeat(3, () => connect(random, morning(random), 'app.powerbi.com', 'circuit', ok));
  repeat(4, () => connect(random, morning(random), 'app.powerbi.com', 'internet', exception));
  repeat(4, () => connect(random, morning(random), 'content.powerapps.com', 'internet', exception));
  repeat(2, () => connect(random, morning(random), 'dev.virtualearth.net', 'internet', exception));
  repeat(1, () => connect(random, morning(random), 'powerbi.uservoice.com', 'internet', exception));
  repeat(2, () =>
    get(random, morning(random), 'ajax.aspnetcdn.com', '/ajax/jQuery/jquery-3.5.1.min.js', exception),
  );
  repeat(2, () => connect(random, morning(random), 'www.example.com', 'direct', unknown));
  repeat(1, () => connect(random, morning(random), 'api.powerbi.com', 'denied', unverified));
  events.push(
    connect(
      random,
      demoStart + 2 * 3600_000 + 1234,
      'api.powerbi.com',
      'internet',
      leak('api.powerbi.com', `proxy ${internetProxy}`, 'service.backend-api'),
    ),
    connect(
      random,
      demoStart + 3 * 3600_000 + 4321,
      'wabi-north-europe-d-primary-redirect.analysis.windows.net',
      'direct',
      leak('wabi-north-europe-d-primary-redirect.analysis.windows.net', 'default', 'service.backend-api'),
    ),
    // A line cut short by a full disk: the audit reports it with its line number and goes on.
    {
      time: demoStart + 3600_000,
      write: (file) =>
        file.add(`${((demoStart + 3600_000) / 1000).toFixed(3)}    12 10.1.1.17 TCP_TUNNEL/200`),
    },
  );
  const current = new TextFile();
  writeInTimeOrder(current, events);

  // The rotated log of the half hour before: gzip-compressed, as logrotate leaves it.
  const earlier: Timed[] = [];
  const before = (minutes: number) => demoStart - minutes * 60_000 + random.int(0, 59_999);
  for (const minutes of [28, 21, 9])
    earlier.push(connect(random, before(minutes), 'api.powerbi.com', 'circuit', ok));
  earlier.push(connect(random, before(15), 'maxcdn.bootstrapcdn.com', 'internet', exception));
  earlier.push(
    connect(
      random,
      before(12),
      'login.microsoftonline.com',
      'internet',
      leak('login.microsoftonline.com', `proxy ${internetProxy}`, 'service.credentials'),
    ),
  );
  const rotated = new TextFile();
  writeInTimeOrder(rotated, earlier);

  return [
    {
      path: 'squid/access.log',
      content: current.toBuffer(),
      format: 'squid',
      description:
        'Squid native access.log: CONNECTs through the circuit and Internet parents, direct GETs, a denied request, one truncated line',
      expected: current.expected,
    },
    {
      path: 'squid/access.log.1.gz',
      // Level 9 and no file name: the bytes depend only on the text (and zlib's version).
      content: gzipSync(rotated.toBuffer(), { level: 9 }),
      format: 'squid',
      description: 'the rotated Squid log of the half hour before, gzip-compressed',
      expected: rotated.expected,
    },
  ];
}
