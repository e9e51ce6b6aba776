// A demo HAR 1.2 export (as Chrome / Edge DevTools save it) of a Power BI session in the browser.
// `serverIPAddress` is the evidence: most entries went straight out, so the topology's prefixes and
// default path decide; one entry came from the cache (empty address: unverified), one used IPv6
// (bracketed, as Chromium writes it). The known leak: a North Europe analysis host reached direct.

import type { Random } from '../../util/random.js';
import type { DemoFile, ExpectedRecord } from './demo-file.js';
import { addresses, demoStart, type Expected, exception, leak, ok, unknown, unverified } from './network.js';

interface Request {
  url: string;
  method: string;
  server: string;
  status: number;
  mime: string;
  expect: Expected;
}

export function harFile(random: Random): DemoFile {
  const north = 'wabi-north-europe-d-primary-redirect.analysis.windows.net';
  const requests: Request[] = [
    {
      url: 'https://app.powerbi.com/groups/me/list?experience=power-bi',
      method: 'GET',
      server: addresses['app.powerbi.com'],
      status: 200,
      mime: 'text/html',
      expect: exception,
    },
    {
      url: 'https://api.powerbi.com/v1.0/myorg/groups',
      method: 'GET',
      server: addresses['api.powerbi.com'],
      status: 200,
      mime: 'application/json',
      expect: ok,
    },
    {
      url: 'https://content.powerapps.com/resource/powerbiwfe/scripts/app.min.js',
      method: 'GET',
      server: addresses['content.powerapps.com'],
      status: 200,
      mime: 'application/javascript',
      expect: exception,
    },
    {
      url: `https://${north}/explore/reports/3f1d/modelsAndExploration`,
      method: 'GET',
      server: addresses[north],
      status: 200,
      mime: 'application/json',
      expect: leak(north, 'default', 'service.backend-api'),
    },
    {
      url: 'https://dc.services.visualstudio.com/v2/track',
      method: 'POST',
      server: addresses['dc.services.visualstudio.com'],
      status: 200,
      mime: 'application/json',
      expect: exception,
    },
    {
      url: 'https://app.powerbi.com/13.0.25778.45/scripts/powerbiportal.dependencies.bundle.min.js',
      method: 'GET',
      server: '',
      status: 200,
      mime: 'application/javascript',
      expect: unverified,
    },
    {
      url: 'https://www.example.com/embed/widget.js',
      method: 'GET',
      server: '[2606:2800:21f:cb07:6820:80da:af6b:8b2c]',
      status: 200,
      mime: 'application/javascript',
      expect: unknown,
    },
    {
      url: 'https://login.microsoftonline.com/common/oauth2/v2.0/token',
      method: 'POST',
      server: addresses['login.microsoftonline.com'],
      status: 200,
      mime: 'application/json',
      expect: ok,
    },
  ];
  let time = demoStart + 95 * 60_000 + 250;
  const entries = requests.map((request) => {
    time += random.int(80, 4_000);
    const wait = random.int(20, 400);
    const receive = random.int(1, 300);
    const body = random.int(300, 400_000);
    const sent = request.method === 'POST' ? random.int(200, 4_000) : 0;
    return {
      startedDateTime: new Date(time).toISOString(),
      time: wait + receive + 3,
      request: {
        method: request.method,
        url: request.url,
        httpVersion: 'http/2.0',
        headers: [{ name: ':authority', value: new URL(request.url).host }],
        queryString: [],
        cookies: [],
        headersSize: -1,
        bodySize: sent,
      },
      response: {
        status: request.status,
        statusText: '',
        httpVersion: 'http/2.0',
        headers: [{ name: 'content-type', value: request.mime }],
        cookies: [],
        content: { size: body, mimeType: request.mime },
        redirectURL: '',
        headersSize: -1,
        bodySize: request.server === '' ? 0 : body,
        _transferSize: request.server === '' ? 0 : body + 180,
      },
      cache: {},
      timings: { blocked: 1, dns: -1, ssl: -1, connect: -1, send: 1, wait, receive, _blocked_queueing: 1 },
      serverIPAddress: request.server,
      _initiator: { type: 'script' },
      _priority: 'High',
      _resourceType: request.mime === 'text/html' ? 'document' : 'fetch',
      connection: request.server === '' ? '' : String(random.int(10_000, 99_999)),
      pageref: 'page_1',
    };
  });
  const har = {
    log: {
      version: '1.2',
      creator: { name: 'WebInspector', version: '537.36' },
      pages: [
        {
          startedDateTime: new Date(demoStart + 95 * 60_000).toISOString(),
          id: 'page_1',
          title: 'Power BI',
          pageTimings: { onContentLoad: 1830.2, onLoad: 2711.9 },
        },
      ],
      entries,
    },
  };
  const text = `${JSON.stringify(har, null, 2)}\n`;
  // The audit numbers a HAR entry by the line its object opens on, so that `file:line` can be
  // opened in an editor; with 2-space indentation each entry opens on a line of its own.
  const lines = text.split('\n');
  const entriesAt = lines.indexOf('    "entries": [');
  const entryLines = lines.flatMap((line, index) =>
    index > entriesAt && line === '      {' ? [index + 1] : [],
  );
  const expected: ExpectedRecord[] = requests.map((request, index) => ({
    ...request.expect,
    line: entryLines[index] as number,
  }));
  return {
    path: 'har/powerbi-session.har',
    content: Buffer.from(text, 'utf8'),
    format: 'har',
    description: 'HAR 1.2 from a browser session: serverIPAddress as evidence, a cached entry, an IPv6 entry',
    expected,
  };
}
