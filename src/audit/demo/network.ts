// The made-up network of the demo data set: one organisation in West Europe that reaches Power BI
// over an ExpressRoute circuit through an egress proxy (10.9.0.1) or a policy-routed source
// address (10.20.0.5), with a second proxy (10.9.0.2) and address (10.20.0.6) for the Internet.
// Addresses of Microsoft services are taken from the ranges the catalog and the service tag name;
// the rest come from the documentation ranges (RFC 5737) or example.com.
import type { Verdict } from '../../policy/verdict.js';

/** 2026-11-23 08:00:00 UTC, the start of the demo's morning of traffic. */
export const demoStart = Date.UTC(2026, 10, 23, 8, 0, 0);

export const circuitProxy = '10.9.0.1';
export const internetProxy = '10.9.0.2';
export const circuitSource = '10.20.0.5';
export const internetSource = '10.20.0.6';
export const resolver = '10.0.0.53';

/** Where each demo host name resolves. */
export const addresses = {
  'api.powerbi.com': '13.73.248.5',
  'wabi-west-europe-redirect.analysis.windows.net': '13.73.248.50',
  /** North Europe is missing from the circuit's route filter: its traffic takes the default path. */
  'wabi-north-europe-d-primary-redirect.analysis.windows.net': '52.123.1.10',
  'westeurope.pbidedicated.windows.net': '13.73.248.70',
  'westeurope-redirect.pbidedicated.windows.net': '52.123.2.20',
  'login.microsoftonline.com': '20.190.160.20',
  'app.powerbi.com': '20.50.2.10',
  'content.powerapps.com': '104.16.10.10',
  'dc.services.visualstudio.com': '20.42.65.84',
  'dev.virtualearth.net': '13.107.21.200',
  'visuals.azureedge.net': '152.199.19.161',
  'ajax.aspnetcdn.com': '152.199.19.160',
  'maxcdn.bootstrapcdn.com': '104.18.10.207',
  'powerbi.uservoice.com': '104.17.30.1',
  'c1.microsoft.com': '20.189.173.1',
  'www.example.com': '93.184.215.14',
  'telemetry.vendor.example': '198.51.100.23',
  'cdn.example.net': '203.0.113.50',
} as const;

export type DemoHost = keyof typeof addresses;

/** A PowerBI service-tag address that no DNS answer in the demo names. */
export const serviceTagAddress = '13.73.248.4';

export const topologyYaml = `# Topology of the pathwarden demo network (see docs/topology.md).
expressroute:
  # What the circuit's route filter advertises: part of the PowerBI service tag (West Europe) and
  # the Azure AD login range. North Europe (52.123.0.0/16 here) is missing on purpose.
  prefixes:
    - 13.73.248.0/24
    - 20.190.160.0/24
  proxies:
    - ${circuitProxy}:3128
  sourceAddresses:
    - ${circuitSource}
internet:
  proxies:
    - ${internetProxy}:3128
  sourceAddresses:
    - ${internetSource}
default: internet
region: westeurope
`;

/** What the demo expects of one record of its inputs. */
export interface Expected {
  verdict: Verdict;
  /** For leaks: what the report must show. */
  leak?: { host: string; evidence: string; rule: string };
}

export const ok: Expected = { verdict: 'ok' };
export const exception: Expected = { verdict: 'exception' };
export const unknown: Expected = { verdict: 'unknown' };
export const unverified: Expected = { verdict: 'unverified' };
export const notCovered: Expected = { verdict: 'not-covered' };

export function leak(host: string, evidence: string, rule: string): Expected {
  return { verdict: 'leak', leak: { host, evidence, rule } };
}
