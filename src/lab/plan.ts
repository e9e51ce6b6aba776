// The lab's fixed plan: namespaces, links, addresses, the names each origin answers for, and the
// client activities that exercise every rule of the seed. Only 198.18.0.0/15 (benchmarking) and
// the documentation ranges are used, so nothing here can collide with a real network.
import { randomBytes } from 'node:crypto';
import type { Component, EgressPath, RulePath } from '../catalog/model.js';
import type { ExpectedPath } from '../policy/policy.js';

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
  /** Private-endpoint addresses (private-link scenario): behind the circuit only. */
  privateEndpointPrefix: '198.18.40.0/24',
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

/** Every name the lab's DNS answers (and its certificate covers). */
export const labHosts: readonly string[] = [
  'login.microsoftonline.com',
  'api.powerbi.com',
  'wabi-west-europe-redirect.analysis.windows.net',
  'lab-capacity.pbidedicated.windows.net',
  'relay.gateway.pwlab.example',
  'app.powerbi.com',
  'dc.services.visualstudio.com',
  'customlink.pwlab.example',
  'provider.pwlab.example',
  'getdata.pwlab.example',
  'visual3p.pwlab.example',
  'powerbi.com',
  'maxcdn.bootstrapcdn.com',
  'ajax.aspnetcdn.com',
  'netdna.bootstrapcdn.com',
  'cdn.optimizely.com',
  'google-analytics.com',
  'secure.aadcdn.microsoftonline-p.com',
  'az416426.vo.msecnd.com',
  'app.localytics.com',
  'sjrtp2.mktoresp.com',
  'dev.virtualearth.net',
  'platform.bing.com',
  'c.microsoft.com',
  'powerbi.microsoft.com',
  'support.powerbi.com',
  'go.microsoft.com',
  'powerbi.uservoice.com',
  'ideas.powerbi.com',
  'content.powerapps.com',
  'visuals.azureedge.net',
  'pbivisuals.azureedge.net',
  'c1.microsoft.com',
  'ms-visuals.msecnd.net',
  'cdn-static.pwlab.example',
  'downloads.pwlab.example',
  'cortana.pwlab.example',
  'bingnews.pwlab.example',
  'update.pwlab.example',
];

const sideBase: Record<OriginSide, string> = {
  circuit: '198.19.10.',
  both: '198.19.20.',
  internet: '203.0.113.',
};

/**
 * Where each name's origin runs, from what the catalog in use expects for it: circuit-bound names
 * behind the circuit, names documented on both paths on both sides, the rest on the Internet only.
 * A name whose components disagree is answered on both sides. Derived, not fixed, so that the lab
 * follows the catalog (a user's, or the built-in one as it changes).
 */
export function placeNames(expected: (host: string, component: Component) => ExpectedPath): LabName[] {
  const counters: Record<OriginSide, number> = { circuit: 10, both: 10, internet: 10 };
  return labHosts.map((host) => {
    const paths = new Set(
      activities.filter((a) => new URL(a.url).hostname === host).map((a) => expected(host, a.component)),
    );
    const circuitBound = paths.has('expressroute');
    const internetBound = paths.has('internet') || paths.has('unknown');
    const side: OriginSide =
      paths.has('either') || (circuitBound && internetBound) ? 'both' : circuitBound ? 'circuit' : 'internet';
    return { host, address: `${sideBase[side]}${counters[side]++}`, side };
  });
}

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

/**
 * One request a lab client makes: which component and what. Which rule and path it must take is
 * the catalog's answer (decide()), never fixed here, so the lab checks the catalog in use.
 */
export interface Activity {
  component: Component;
  /** What the seed calls it, for the report. */
  label: string;
  method: 'GET' | 'POST';
  url: string;
}

const get = (component: Component, label: string, url: string): Activity => ({
  component,
  label,
  method: 'GET',
  url,
});
const post = (component: Component, label: string, url: string): Activity => ({
  component,
  label,
  method: 'POST',
  url,
});

/** The clients' activities, in the order a user would cause them. */
export const activities: readonly Activity[] = [
  // SaaS web app (browser)
  get('saas', 'landing page at powerbi.com', 'https://powerbi.com/'),
  get('saas', 'landing page CDN', 'https://maxcdn.bootstrapcdn.com/bootstrap.min.css'),
  get('saas', 'landing page CDN', 'https://ajax.aspnetcdn.com/jquery.min.js'),
  get('saas', 'landing page CDN', 'https://netdna.bootstrapcdn.com/font.css'),
  get('saas', 'landing page CDN', 'https://cdn.optimizely.com/js/lab.js'),
  get('saas', 'landing page analytics', 'https://google-analytics.com/analytics.js'),
  get('saas', 'browser configuration file', 'https://cdn-static.pwlab.example/config.json'),
  get('saas', 'product download', 'https://downloads.pwlab.example/PBIDesktopSetup.exe'),
  get('saas', 'CDN of the portal', 'https://content.powerapps.com/app.js'),
  get('saas', 'login page assets', 'https://secure.aadcdn.microsoftonline-p.com/login.css'),
  get('saas', 'login page assets', 'https://az416426.vo.msecnd.com/login.js'),
  get('saas', 'login page assets', 'https://app.localytics.com/login-tracker.js'),
  get('saas', 'login page assets', 'https://sjrtp2.mktoresp.com/webevents/visitWebPage'),
  post('saas', 'credential POST', 'https://login.microsoftonline.com/common/oauth2/v2.0/token'),
  get('saas', 'service front end', 'https://app.powerbi.com/groups/me/reports'),
  get('saas', 'backend API call', 'https://api.powerbi.com/v1.0/myorg/groups'),
  post(
    'saas',
    'backend cluster query',
    'https://wabi-west-europe-redirect.analysis.windows.net/explore/query',
  ),
  get('saas', 'dedicated capacity', 'https://lab-capacity.pbidedicated.windows.net/webapi/capacities'),
  get('saas', 'map tiles', 'https://dev.virtualearth.net/REST/v1/Imagery/Map/Road'),
  get('saas', 'geocoding', 'https://platform.bing.com/geo/spatial/v1/public/geodata'),
  post('saas', 'telemetry', 'https://dc.services.visualstudio.com/v2/track'),
  post('saas', 'usage analytics', 'https://c.microsoft.com/ms.js'),
  get('saas', 'product site', 'https://powerbi.microsoft.com/'),
  get('saas', 'Cortana (Bing)', 'https://cortana.pwlab.example/search'),
  get('saas', 'custom link (image widget)', 'https://customlink.pwlab.example/image.png'),
  post('saas', 'feedback (User Voice)', 'https://powerbi.uservoice.com/forums/265200'),
  get('saas', 'feedback (ideas)', 'https://ideas.powerbi.com/'),
  get('saas', 'Bing News content', 'https://bingnews.pwlab.example/news'),
  get('saas', 'app provider page', 'https://provider.pwlab.example/settings'),
  get('saas', 'support site', 'https://support.powerbi.com/'),
  get('saas', 'support link', 'https://go.microsoft.com/fwlink/?LinkId=1'),
  get('saas', 'custom visual package', 'https://visuals.azureedge.net/app-store/visual.js'),
  get('saas', 'custom visual (msecnd.net)', 'https://ms-visuals.msecnd.net/visual.js'),
  // Desktop
  get('desktop', 'Desktop update check', 'https://update.pwlab.example/desktop/version'),
  post('desktop', 'Desktop telemetry', 'https://dc.services.visualstudio.com/v2/track'),
  get('desktop', 'Desktop map tiles', 'https://dev.virtualearth.net/REST/v1/Imagery/Map/Aerial'),
  get('desktop', 'Get Data from Web', 'https://getdata.pwlab.example/table.csv'),
  get('desktop', 'Desktop publish (backend API)', 'https://api.powerbi.com/v1.0/myorg/imports'),
  // PaaS embedding
  post('paas', 'public embed telemetry', 'https://c1.microsoft.com/embed/track'),
  get('paas', 'custom visual CDN', 'https://pbivisuals.azureedge.net/visual.js'),
  get('paas', 'third-party visual', 'https://visual3p.pwlab.example/visual-data'),
  post('paas', 'embed token (backend API)', 'https://api.powerbi.com/v1.0/myorg/GenerateToken'),
  // On-premises data gateway
  get('gateway', 'gateway relay', 'https://relay.gateway.pwlab.example/$hc/gateway'),
  post('gateway', 'gateway data to the service', 'https://api.powerbi.com/v1.0/myorg/gateways'),
  // Mobile: not covered by the seed
  get('mobile', 'mobile app', 'https://app.powerbi.com/mobile'),
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
