// The lab's fixed plan: namespaces, links, addresses, the names each origin answers for, and the
// client activities that exercise every rule of the seed. Only 198.18.0.0/15 (benchmarking) and
// the documentation ranges are used, so nothing here can collide with a real network.
import { randomBytes } from 'node:crypto';
import type { Component, EgressPath, RulePath } from '../catalog/model.js';

/** Where an origin name is served: behind the circuit, on the Internet, or on both (anycast-like). */
export type OriginSide = 'circuit' | 'internet' | 'both';

export interface LabName {
  host: string;
  address: string;
  side: OriginSide;
}

/**
 * Addresses. Circuit-bound Microsoft names live in 198.19.10.0/24 (the prefix the circuit
 * advertises); the front end and documented-on-both names in 198.19.20.0/24, answered on both
 * sides; CDNs and third parties in 203.0.113.0/24, on the Internet only. Microsoft's addresses
 * are public, so the Internet side answers 198.19.10.0/24 too: only routing keeps a flow off it.
 */
export const labAddresses = {
  clientNet: '198.18.1.0/24',
  branchClientSide: '198.18.1.1',
  circuitNet: '198.18.2.0/24',
  branchCircuitSide: '198.18.2.1',
  circuitPeer: '198.18.2.2',
  internetNet: '198.18.3.0/24',
  branchInternetSide: '198.18.3.1',
  internetPeer: '198.18.3.2',
  circuitPrefix: '198.19.10.0/24',
  bothPrefix: '198.19.20.0/24',
  internetPrefix: '203.0.113.0/24',
  gatewayPort: 3128,
  squidCircuitPort: 3129,
  squidInternetPort: 3130,
  adminPort: 9180,
} as const;

/** Client source addresses, one per Power BI component, plus one that bypasses every proxy. */
export const clientAddresses: Readonly<Record<Component | 'leaky', string>> = {
  saas: '198.18.1.10',
  desktop: '198.18.1.11',
  paas: '198.18.1.12',
  gateway: '198.18.1.13',
  mobile: '198.18.1.14',
  leaky: '198.18.1.20',
};

const circuit = (host: string, last: number): LabName => ({
  host,
  address: `198.19.10.${last}`,
  side: 'circuit',
});
const both = (host: string, last: number): LabName => ({ host, address: `198.19.20.${last}`, side: 'both' });
const internet = (host: string, last: number): LabName => ({
  host,
  address: `203.0.113.${last}`,
  side: 'internet',
});

/** Every name the lab's DNS answers, and where its origin runs. */
export const labNames: readonly LabName[] = [
  circuit('login.microsoftonline.com', 10),
  circuit('api.powerbi.com', 11),
  circuit('wabi-west-europe-redirect.analysis.windows.net', 12),
  circuit('lab-capacity.pbidedicated.windows.net', 13),
  circuit('relay.gateway.pwlab.example', 14),
  both('app.powerbi.com', 10),
  both('dc.services.visualstudio.com', 11),
  both('customlink.pwlab.example', 12),
  both('provider.pwlab.example', 13),
  both('getdata.pwlab.example', 14),
  both('visual3p.pwlab.example', 15),
  internet('powerbi.com', 10),
  internet('maxcdn.bootstrapcdn.com', 11),
  internet('ajax.aspnetcdn.com', 12),
  internet('netdna.bootstrapcdn.com', 13),
  internet('cdn.optimizely.com', 14),
  internet('google-analytics.com', 15),
  internet('secure.aadcdn.microsoftonline-p.com', 16),
  internet('az416426.vo.msecnd.com', 17),
  internet('app.localytics.com', 18),
  internet('sjrtp2.mktoresp.com', 19),
  internet('dev.virtualearth.net', 20),
  internet('platform.bing.com', 21),
  internet('c.microsoft.com', 22),
  internet('powerbi.microsoft.com', 23),
  internet('support.powerbi.com', 24),
  internet('go.microsoft.com', 25),
  internet('powerbi.uservoice.com', 26),
  internet('ideas.powerbi.com', 27),
  internet('content.powerapps.com', 28),
  internet('visuals.azureedge.net', 29),
  internet('pbivisuals.azureedge.net', 30),
  internet('c1.microsoft.com', 31),
  internet('ms-visuals.msecnd.net', 32),
  internet('cdn-static.pwlab.example', 40),
  internet('downloads.pwlab.example', 41),
  internet('cortana.pwlab.example', 42),
  internet('bingnews.pwlab.example', 43),
  internet('update.pwlab.example', 44),
];

/**
 * Stand-in hosts for catalog rules that name no destination (the seed names none): the lab's
 * catalog overlay gives each such rule the host below, so flows to it carry the rule's own id.
 */
export const standInHosts: Readonly<Record<string, string>> = {
  'overall.cdn-static': 'cdn-static.pwlab.example',
  'overall.product-downloads': 'downloads.pwlab.example',
  'saas.cortana': 'cortana.pwlab.example',
  'saas.custom-links': 'customlink.pwlab.example',
  'saas.bing-news': 'bingnews.pwlab.example',
  'saas.app-provider-pages': 'provider.pwlab.example',
  'desktop.update-check': 'update.pwlab.example',
  'desktop.get-data-web': 'getdata.pwlab.example',
  'paas.third-party-visuals': 'visual3p.pwlab.example',
  'gateway.compliant': 'relay.gateway.pwlab.example',
};

/** One request a lab client makes: which component, what, and the rule the catalog should pick. */
export interface Activity {
  component: Component;
  /** What the seed calls it, for the report. */
  label: string;
  method: 'GET' | 'POST';
  url: string;
  /** The catalog rule this request exercises (checked against the gateway's record). */
  rule: string;
}

const get = (component: Component, label: string, url: string, rule: string): Activity => ({
  component,
  label,
  method: 'GET',
  url,
  rule,
});
const post = (component: Component, label: string, url: string, rule: string): Activity => ({
  component,
  label,
  method: 'POST',
  url,
  rule,
});

/** The clients' activities, in the order a user would cause them. */
export const activities: readonly Activity[] = [
  // SaaS web app (browser)
  get('saas', 'landing page at powerbi.com', 'https://powerbi.com/', 'saas.powerbi-com'),
  get('saas', 'landing page CDN', 'https://maxcdn.bootstrapcdn.com/bootstrap.min.css', 'saas.landing-page'),
  get('saas', 'landing page CDN', 'https://ajax.aspnetcdn.com/jquery.min.js', 'saas.landing-page'),
  get('saas', 'landing page CDN', 'https://netdna.bootstrapcdn.com/font.css', 'saas.landing-page'),
  get('saas', 'landing page CDN', 'https://cdn.optimizely.com/js/lab.js', 'saas.landing-page'),
  get('saas', 'landing page analytics', 'https://google-analytics.com/analytics.js', 'saas.landing-page'),
  get(
    'saas',
    'browser configuration file',
    'https://cdn-static.pwlab.example/config.json',
    'overall.cdn-static',
  ),
  get(
    'saas',
    'product download',
    'https://downloads.pwlab.example/PBIDesktopSetup.exe',
    'overall.product-downloads',
  ),
  get('saas', 'CDN of the portal', 'https://content.powerapps.com/app.js', 'overall.cdn-2024'),
  get(
    'saas',
    'login page assets',
    'https://secure.aadcdn.microsoftonline-p.com/login.css',
    'saas.login-page',
  ),
  get('saas', 'login page assets', 'https://az416426.vo.msecnd.com/login.js', 'saas.login-page'),
  get('saas', 'login page assets', 'https://app.localytics.com/login-tracker.js', 'saas.login-page'),
  get('saas', 'login page assets', 'https://sjrtp2.mktoresp.com/webevents/visitWebPage', 'saas.login-page'),
  post(
    'saas',
    'credential POST',
    'https://login.microsoftonline.com/common/oauth2/v2.0/token',
    'service.credentials',
  ),
  get('saas', 'service front end', 'https://app.powerbi.com/groups/me/reports', 'service.portal'),
  get('saas', 'backend API call', 'https://api.powerbi.com/v1.0/myorg/groups', 'service.backend-api'),
  post(
    'saas',
    'backend cluster query',
    'https://wabi-west-europe-redirect.analysis.windows.net/explore/query',
    'service.backend-api',
  ),
  get(
    'saas',
    'dedicated capacity',
    'https://lab-capacity.pbidedicated.windows.net/webapi/capacities',
    'service.backend-api',
  ),
  get('saas', 'map tiles', 'https://dev.virtualearth.net/REST/v1/Imagery/Map/Road', 'saas.maps'),
  get('saas', 'geocoding', 'https://platform.bing.com/geo/spatial/v1/public/geodata', 'saas.maps'),
  post('saas', 'telemetry', 'https://dc.services.visualstudio.com/v2/track', 'overall.telemetry'),
  post('saas', 'usage analytics', 'https://c.microsoft.com/ms.js', 'saas.manage-analytics'),
  get('saas', 'product site', 'https://powerbi.microsoft.com/', 'saas.product-site'),
  get('saas', 'Cortana (Bing)', 'https://cortana.pwlab.example/search', 'saas.cortana'),
  get(
    'saas',
    'custom link (image widget)',
    'https://customlink.pwlab.example/image.png',
    'saas.custom-links',
  ),
  post('saas', 'feedback (User Voice)', 'https://powerbi.uservoice.com/forums/265200', 'saas.feedback'),
  get('saas', 'feedback (ideas)', 'https://ideas.powerbi.com/', 'saas.feedback-2024'),
  get('saas', 'Bing News content', 'https://bingnews.pwlab.example/news', 'saas.bing-news'),
  get('saas', 'app provider page', 'https://provider.pwlab.example/settings', 'saas.app-provider-pages'),
  get('saas', 'support site', 'https://support.powerbi.com/', 'saas.support'),
  get('saas', 'support link', 'https://go.microsoft.com/fwlink/?LinkId=1', 'saas.support'),
  get(
    'saas',
    'custom visual package',
    'https://visuals.azureedge.net/app-store/visual.js',
    'visuals.azureedge-2024',
  ),
  get('saas', 'custom visual (msecnd.net)', 'https://ms-visuals.msecnd.net/visual.js', 'visuals.msecnd-net'),
  // Desktop
  get(
    'desktop',
    'Desktop update check',
    'https://update.pwlab.example/desktop/version',
    'desktop.update-check',
  ),
  post('desktop', 'Desktop telemetry', 'https://dc.services.visualstudio.com/v2/track', 'overall.telemetry'),
  get(
    'desktop',
    'Desktop map tiles',
    'https://dev.virtualearth.net/REST/v1/Imagery/Map/Aerial',
    'desktop.maps',
  ),
  get('desktop', 'Get Data from Web', 'https://getdata.pwlab.example/table.csv', 'desktop.get-data-web'),
  get(
    'desktop',
    'Desktop publish (backend API)',
    'https://api.powerbi.com/v1.0/myorg/imports',
    'service.backend-api',
  ),
  // PaaS embedding
  post(
    'paas',
    'public embed telemetry',
    'https://c1.microsoft.com/embed/track',
    'paas.public-embed-telemetry',
  ),
  get('paas', 'custom visual CDN', 'https://pbivisuals.azureedge.net/visual.js', 'paas.custom-visuals-cdn'),
  get('paas', 'third-party visual', 'https://visual3p.pwlab.example/visual-data', 'paas.third-party-visuals'),
  post(
    'paas',
    'embed token (backend API)',
    'https://api.powerbi.com/v1.0/myorg/GenerateToken',
    'service.backend-api',
  ),
  // On-premises data gateway
  get('gateway', 'gateway relay', 'https://relay.gateway.pwlab.example/$hc/gateway', 'gateway.compliant'),
  post(
    'gateway',
    'gateway data to the service',
    'https://api.powerbi.com/v1.0/myorg/gateways',
    'service.backend-api',
  ),
  // Mobile: not covered by the seed
  get('mobile', 'mobile app', 'https://app.powerbi.com/mobile', 'mobile.not-covered'),
];

/** Names a lab run gives to its namespaces and links; a random suffix keeps runs apart. */
export interface LabNaming {
  id: string;
  ns: Record<'client' | 'branch' | 'circuit' | 'internet', string>;
  /** veth ends: <x>B is the branch side, <x>P the peer. */
  links: Record<'client' | 'circuit' | 'internet', { branch: string; peer: string }>;
}

export const labPrefix = 'pwlab-';
/** Interface names start with this (IFNAMSIZ allows 15 characters). */
export const linkPrefix = 'pwl';

export function labNaming(id = randomBytes(3).toString('hex')): LabNaming {
  const link = (letter: string) => ({
    branch: `${linkPrefix}${id}${letter}b`,
    peer: `${linkPrefix}${id}${letter}p`,
  });
  return {
    id,
    ns: {
      client: `${labPrefix}${id}-client`,
      branch: `${labPrefix}${id}-branch`,
      circuit: `${labPrefix}${id}-circuit`,
      internet: `${labPrefix}${id}-internet`,
    },
    links: { client: link('c'), circuit: link('e'), internet: link('i') },
  };
}

/** The uplink a path leaves the branch by. */
export const uplinkOf = (path: EgressPath): 'circuit' | 'internet' =>
  path === 'expressroute' ? 'circuit' : 'internet';

/** Whether a flow of this expected path may appear on this uplink. */
export function allowedOn(
  uplink: 'circuit' | 'internet',
  expected: RulePath | 'unknown' | 'not-covered',
): boolean {
  if (uplink === 'internet') return expected !== 'expressroute';
  return expected !== 'internet';
}
