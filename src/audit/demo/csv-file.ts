// A demo CSV file in pathwarden's documented CSV form (header row of FlowRecord field names), for
// sources no other format covers: a mobile device management export (component `mobile`, not
// covered by the catalog's source), Desktop and embedded (PaaS) traffic seen by an on-premises
// firewall.

import type { Random } from '../../util/random.js';
import type { DemoFile } from './demo-file.js';
import { TextFile } from './demo-file.js';
import {
  addresses,
  circuitSource,
  demoStart,
  type Expected,
  exception,
  internetSource,
  notCovered,
  ok,
} from './network.js';

export const csvColumns = [
  'start',
  'end',
  'client',
  'host',
  'destination',
  'port',
  'protocol',
  'component',
  'bytesUp',
  'bytesDown',
  'sourceAddress',
];

export function csvFile(random: Random): DemoFile {
  const file = new TextFile();
  file.add(csvColumns.join(','));
  const row = (
    minute: number,
    client: string,
    host: keyof typeof addresses,
    component: string,
    source: string,
    expect: Expected,
  ) => {
    const start = demoStart + minute * 60_000 + random.int(0, 59_000);
    const end = start + random.int(500, 120_000);
    const cells = [
      new Date(start).toISOString(),
      new Date(end).toISOString(),
      client,
      host,
      addresses[host],
      443,
      'tcp',
      component,
      random.int(500, 40_000),
      random.int(2_000, 900_000),
      source,
    ];
    file.add(cells.join(','), expect);
  };
  row(9, '10.1.2.51', 'app.powerbi.com', 'mobile', internetSource, notCovered);
  row(58, '10.1.2.52', 'api.powerbi.com', 'mobile', internetSource, notCovered);
  row(140, '10.1.2.51', 'app.powerbi.com', 'mobile', internetSource, notCovered);
  row(26, '10.1.1.61', 'api.powerbi.com', 'desktop', circuitSource, ok);
  row(77, '10.1.1.62', 'c1.microsoft.com', 'paas', internetSource, exception);
  row(164, '10.1.1.8', 'wabi-west-europe-redirect.analysis.windows.net', 'gateway', circuitSource, ok);
  return {
    path: 'csv/other-sources.csv',
    content: file.toBuffer(),
    format: 'csv',
    description: 'pathwarden CSV form: mobile (not covered), Desktop, embedded (PaaS) and gateway flows',
    expected: file.expected,
  };
}
