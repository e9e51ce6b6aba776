// The lab's scenarios. Each drives the clients, captures both uplinks, audits the captures with
// pathwarden's audit and returns a list of checks, each with the evidence it rests on.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { selectProfile } from '../catalog/profiles.js';
import type { FlowRecord } from '../flow/record.js';
import { generatePac } from '../generate/pac.js';
import { type ExpectedPath, Policy } from '../policy/policy.js';
import { loadTopologyFile } from '../policy/topology.js';
import { type BrowserResult, browserActivities, runBrowser } from './browser.js';
import { startCaptures, type Uplink, uplinks } from './capture.js';
import { type ClientResult, describeResult, hostOf, runActivities } from './clients.js';
import type { LabEnvironment } from './environment.js';
import { auditUplink, bytesOf, flowHost, packetRef, readGatewayFlows, type UplinkAudit } from './evidence.js';
import type { PrivateLinkName } from './lab-files.js';
import { setCircuitLink, setCircuitRoute } from './network.js';
import { loadPac } from './pac.js';
import { labAddresses as A, type Activity, activities, clientAddresses } from './plan.js';
import { findProgram } from './prerequisites.js';
import { sleep, waitFor } from './system.js';

export const scenarioNames = [
  'baseline',
  'circuit-down',
  'leaky-client',
  'pac-only',
  'private-link',
] as const;
export type ScenarioName = (typeof scenarioNames)[number];

export interface Check {
  name: string;
  passed: boolean;
  detail: string;
}

export interface ScenarioResult {
  name: ScenarioName;
  passed: boolean;
  checks: Check[];
  ms: number;
  clients: ClientResult[];
  audits: Partial<Record<Uplink, UplinkAudit>>;
  /** Gateway records of this scenario (none for pac-only). */
  gatewayFlows: FlowRecord[];
}

export interface ScenarioContext {
  env: LabEnvironment;
  /** The policy of the catalog in use with the lab overlay: what the gateway and the audit use. */
  policy: Policy;
  userCatalogs: readonly string[];
  /** Test hook: rewrites each generated PAC before the clients use it. */
  mutatePac?: (pac: string, proxies: { circuit: string; internet: string }) => string;
}

const gatewayProxy = `${A.branchClientSide}:${A.gatewayPort}`;

/** What the catalog in use says about an activity: its expected path and rule. */
function expectedOf(ctx: ScenarioContext, activity: Activity): { path: ExpectedPath; rule: string | null } {
  const decision = ctx.policy.decideHost(hostOf(activity.url), { component: activity.component });
  return { path: decision.path, rule: decision.rule?.id ?? null };
}

/**
 * The uplink a request must leave by: circuit-bound and `either` (decisions.either: expressroute)
 * ride the circuit; exceptions and destinations no rule matches (decisions.unknown: internet) the
 * Internet.
 */
function expectedUplink(ctx: ScenarioContext, activity: Activity): Uplink {
  const { path } = expectedOf(ctx, activity);
  return path === 'internet' || path === 'unknown' ? 'internet' : 'circuit';
}

const check = (name: string, failures: readonly string[], okDetail: string): Check => ({
  name,
  passed: failures.length === 0,
  detail: failures.length === 0 ? okDetail : failures.join('; '),
});

const covered = (activity: Activity) => activity.component !== 'mobile';

async function captureAndAudit(
  ctx: ScenarioContext,
  scenario: ScenarioName,
  drive: () => Promise<ClientResult[]>,
): Promise<{ clients: ClientResult[]; audits: Record<Uplink, UplinkAudit> }> {
  const { env } = ctx;
  const captures = await startCaptures(env.group, env.naming, env.dir, scenario);
  let clients: ClientResult[];
  try {
    clients = await drive();
    env.log(`  ${scenario}: ${clients.length} requests done`);
    await sleep(300); // let the last FIN/ACKs reach the capture
  } finally {
    await captures.stop();
  }
  env.log(`  ${scenario}: captures stopped, auditing`);
  const audits = {} as Record<Uplink, UplinkAudit>;
  for (const uplink of uplinks)
    audits[uplink] = await auditUplink(
      uplink,
      captures.files[uplink],
      ctx.policy,
      env.files.uplinkTopology[uplink],
    );
  return { clients, audits };
}

/** Gateway records that started at or after `since`, once at least `count` of them are on disk. */
async function gatewayFlowsSince(ctx: ScenarioContext, since: number, count: number): Promise<FlowRecord[]> {
  let flows: FlowRecord[] = [];
  await waitFor(
    async () => {
      flows = readGatewayFlows(ctx.env.files.flowStore).filter(
        (flow) => (flow.start ?? 0) >= since && flow.client !== null && flow.client.startsWith('198.18.1.'),
      );
      return flows.length >= count;
    },
    3000,
    100,
  );
  return flows;
}

/** Checks shared by the scenarios that carry every client: what each uplink's capture shows. */
function uplinkChecks(
  results: readonly ClientResult[],
  audits: Record<Uplink, UplinkAudit>,
  expected: (result: ClientResult) => Uplink,
): Check[] {
  const checks: Check[] = [];
  const seen = (uplink: Uplink) =>
    new Set(audits[uplink].flows.map(flowHost).filter((h): h is string => h !== null));
  const want: Record<Uplink, Set<string>> = { circuit: new Set(), internet: new Set() };
  for (const result of results)
    if (result.status === 200) want[expected(result)].add(hostOf(result.activity.url));
  for (const uplink of uplinks) {
    const hosts = seen(uplink);
    const missing = [...want[uplink]].filter((host) => !hosts.has(host));
    checks.push(
      check(
        uplink === 'circuit'
          ? 'the circuit uplink carries every circuit-bound host'
          : 'the Internet uplink carries every documented exception',
        missing.map((host) => `${host} not in ${audits[uplink].report.inputs[0]?.file ?? uplink}`),
        `${want[uplink].size} hosts seen in ${audits[uplink].report.inputs[0]?.file}: ${[...want[uplink]].sort().join(', ')}`,
      ),
    );
  }
  // Wrong-side traffic, judged by the catalog (audit classification of each capture flow).
  const offenders = (uplink: Uplink) =>
    audits[uplink].flows.filter((flow) =>
      uplink === 'internet' ? flow.expectedPath === 'expressroute' : flow.expectedPath === 'internet',
    );
  const describe = (flow: FlowRecord) =>
    `${flowHost(flow) ?? flow.destination} (${bytesOf(flow)} bytes, ${packetRef(flow)}, rule ${flow.ruleId})`;
  const circuitWrong = offenders('circuit');
  checks.push(
    check(
      'the circuit uplink carries no Internet exception',
      circuitWrong.map(describe),
      `${audits.circuit.flows.length} flows on the circuit, none whose rule says internet`,
    ),
  );
  const internetWrong = offenders('internet');
  checks.push(
    check(
      'no circuit-bound byte on the Internet uplink',
      internetWrong.map(describe),
      `${audits.internet.flows.length} flows on the Internet uplink, none circuit-bound`,
    ),
  );
  const leaks = uplinks.flatMap((uplink) => audits[uplink].report.findings.leaks.items);
  checks.push(
    check(
      'the audit of both captures reports 0 leaks',
      leaks.map((leak) => `leak ${leak.host} at ${leak.evidence}`),
      `audit: ${uplinks.map((u) => `${audits[u].report.flows} flows on ${u}`).join(', ')}, 0 leaks`,
    ),
  );
  return checks;
}

export async function baseline(ctx: ScenarioContext): Promise<ScenarioResult> {
  const started = Date.now();
  const items = activities.map((activity) => ({
    activity,
    client: clientAddresses[activity.component],
    proxy: gatewayProxy,
  }));
  const chromium = findProgram('chromium');
  let browser: BrowserResult | undefined;
  const { clients, audits } = await captureAndAudit(ctx, 'baseline', async () => {
    const { env } = ctx;
    // The browser and the curl clients run side by side, as users do.
    const page = chromium
      ? runBrowser(env.naming.ns.client, env.dir, env.certificates.certFile, gatewayProxy, chromium)
      : undefined;
    if (!chromium) env.log('  baseline: chromium not installed, the browser check is left out');
    const results = await runActivities(env.clientContext(), items);
    browser = await page;
    if (browser) env.log(`  baseline: Chromium page done in ${browser.ms} ms`);
    return results;
  });
  const flows = await gatewayFlowsSince(ctx, started, items.length);
  const checks: Check[] = [];
  checks.push(
    check(
      'every client works (mobile refused as not covered)',
      clients
        .filter((r) =>
          covered(r.activity)
            ? r.status !== 200
            : r.connectStatus !== 403 || r.errorCode !== 'PW_GW_NOT_COVERED_DENIED',
        )
        .map(describeResult),
      `${clients.length} requests: ${clients.filter((r) => r.status === 200).length} answered 200, mobile refused with PW_GW_NOT_COVERED_DENIED`,
    ),
  );
  if (browser) {
    const failed = browser.rows
      .filter((row) => row.status !== 200)
      .map((row) => `${row.url}: ${row.status || 'failed'}`);
    const missing = browserActivities
      .filter((a) => !browser?.rows.some((row) => row.url === a.url))
      .map((a) => `${a.url}: not fetched`);
    checks.push(
      check(
        'a Chromium page (Power BI-like SPA from app.powerbi.com) works through the gateway',
        browser.error ? [browser.error] : [...failed, ...missing],
        `${browser.rows.length} fetches from https://app.powerbi.com/spa answered 200 in ${browser.ms} ms (CDN and sign-in assets, credential POST, backend calls, map tiles, telemetry, custom link)`,
      ),
    );
  }
  const decisionFailures: string[] = [];
  for (const result of clients) {
    const host = hostOf(result.activity.url);
    const flow = flows.find((f) => f.client === result.client && f.host === host);
    if (!flow) {
      decisionFailures.push(`no gateway record for ${result.activity.component} ${host}`);
      continue;
    }
    if (!covered(result.activity)) {
      if (flow.verdict !== 'not-covered' || flow.outcome !== 'denied')
        decisionFailures.push(`${host} (mobile): verdict ${flow.verdict}, outcome ${flow.outcome}`);
      continue;
    }
    const egress = expectedUplink(ctx, result.activity) === 'circuit' ? 'expressroute' : 'internet';
    const { rule } = expectedOf(ctx, result.activity);
    if (flow.ruleId !== rule || flow.egressPath !== egress)
      decisionFailures.push(
        `${host} (${result.activity.component}): rule ${flow.ruleId} egress ${flow.egressPath}, the catalog says ${rule} egress ${egress}`,
      );
  }
  checks.push(
    check(
      "the gateway picks each activity's rule and path",
      decisionFailures,
      `${clients.length} gateway records, each with the expected rule and egress`,
    ),
  );
  checks.push(...uplinkChecks(clients, audits, (r) => expectedUplink(ctx, r.activity)));
  // The gateway's records and the captures tell the same story, uplink by uplink.
  const agreement: string[] = [];
  for (const uplink of uplinks) {
    const egress = uplink === 'circuit' ? 'expressroute' : 'internet';
    const gatewayHosts = new Set(
      flows.filter((f) => f.outcome === 'forwarded' && f.egressPath === egress).map((f) => f.host ?? ''),
    );
    const captureHosts = new Set(audits[uplink].flows.map(flowHost).filter((h): h is string => h !== null));
    for (const host of gatewayHosts)
      if (!captureHosts.has(host))
        agreement.push(`${host}: gateway says ${egress}, not in the ${uplink} capture`);
    for (const host of captureHosts)
      if (!gatewayHosts.has(host))
        agreement.push(`${host}: in the ${uplink} capture, no gateway record with egress ${egress}`);
  }
  checks.push(
    check(
      "the captures agree with the gateway's flow records",
      agreement,
      `every forwarded gateway record has its flow on its uplink's capture and nothing else was captured`,
    ),
  );
  return finish('baseline', started, checks, clients, audits, flows);
}

export async function circuitDown(ctx: ScenarioContext): Promise<ScenarioResult> {
  const { env } = ctx;
  const started = Date.now();
  const circuitBound = activities.filter((a) => covered(a) && expectedOf(ctx, a).path === 'expressroute');
  // One exception per component that has one (the first in the clients' order).
  const exceptions = (['saas', 'desktop', 'paas'] as const).flatMap((component) =>
    activities.filter((a) => a.component === component && expectedOf(ctx, a).path === 'internet').slice(0, 2),
  );
  const viaGateway = (list: readonly Activity[]) =>
    list.map((activity) => ({ activity, client: clientAddresses[activity.component], proxy: gatewayProxy }));
  const checks: Check[] = [];
  const clients: ClientResult[] = [];
  const outage = { start: 0, end: 0 };
  const { audits } = await captureAndAudit(ctx, 'circuit-down', async () => {
    await setCircuitLink(env.naming, false);
    outage.start = Date.now();
    let healthStatus = 0;
    const turned = await waitFor(
      async () => {
        healthStatus = (await env.health('expressroute')).status;
        return healthStatus === 503;
      },
      5000,
      50,
    );
    checks.push(
      check(
        '/healthz?require=expressroute turns 503',
        turned ? [] : [`still ${healthStatus} 5 s after the cut`],
        `503 ${Date.now() - outage.start} ms after the circuit link was cut`,
      ),
    );
    const down = await runActivities(env.clientContext(), viaGateway(circuitBound));
    clients.push(...down);
    checks.push(
      check(
        "circuit-bound requests fail fast with the gateway's fail-closed error",
        down
          .filter((r) => r.errorCode !== 'PW_GW_CIRCUIT_DOWN' || r.connectStatus !== 503 || r.ms > 2000)
          .map(describeResult),
        `${down.length} requests refused with 503 PW_GW_CIRCUIT_DOWN in at most ${Math.max(...down.map((r) => r.ms))} ms`,
      ),
    );
    const still = await runActivities(env.clientContext(), viaGateway(exceptions));
    clients.push(...still);
    checks.push(
      check(
        'documented exceptions still work',
        still.filter((r) => r.status !== 200).map(describeResult),
        `${still.length} exceptions answered 200: ${still.map((r) => hostOf(r.activity.url)).join(', ')}`,
      ),
    );
    await setCircuitLink(env.naming, true);
    await setCircuitRoute(env.naming);
    outage.end = Date.now();
    const back = await waitFor(async () => (await env.health('expressroute')).status === 200, 10_000, 100);
    const after = back ? await runActivities(env.clientContext(), viaGateway(circuitBound)) : [];
    clients.push(...after);
    checks.push(
      check(
        'everything recovers when the link returns',
        back
          ? after.filter((r) => r.status !== 200).map(describeResult)
          : ['/healthz stayed 503 for 10 s after the link came back'],
        `healthz 200 ${Date.now() - outage.end} ms after link up; ${after.length} circuit-bound requests answered 200`,
      ),
    );
    return clients;
  });
  const flows = await gatewayFlowsSince(ctx, started, clients.length);
  const internetCircuitBound = audits.internet.flows.filter((f) => f.expectedPath === 'expressroute');
  checks.push(
    check(
      '0 circuit-bound bytes on the Internet uplink',
      internetCircuitBound.map(
        (f) => `${flowHost(f) ?? f.destination} (${bytesOf(f)} bytes, ${packetRef(f)})`,
      ),
      `${audits.internet.flows.length} flows on the Internet uplink during the run, none circuit-bound`,
    ),
  );
  const blocked = flows.filter((f) => f.error === 'PW_GW_CIRCUIT_DOWN');
  const rerouted = flows.filter(
    (f) => f.outcome === 'forwarded' && f.egressPath === 'internet' && f.expectedPath === 'expressroute',
  );
  checks.push(
    check(
      'the gateway recorded each refusal and re-routed nothing',
      [
        ...(blocked.length < circuitBound.length
          ? [`${blocked.length} PW_GW_CIRCUIT_DOWN records, expected ${circuitBound.length}`]
          : []),
        ...rerouted.map((f) => `${f.host} went out on the Internet egress`),
      ],
      `${blocked.length} records blocked with PW_GW_CIRCUIT_DOWN (${[...new Set(blocked.map((f) => f.host))].join(', ')})`,
    ),
  );
  return finish('circuit-down', started, checks, clients, audits, flows);
}

export async function leakyClient(ctx: ScenarioContext): Promise<ScenarioResult> {
  const { env } = ctx;
  const started = Date.now();
  const leaking = activities.filter(
    (a) => a.component === 'saas' && expectedOf(ctx, a).path === 'expressroute',
  );
  const exception = activities
    .filter((a) => a.component === 'saas' && expectedOf(ctx, a).path === 'internet')
    .slice(0, 1);
  const items = [...leaking, ...exception].map((activity) => ({
    activity,
    client: clientAddresses.leaky,
    proxy: null,
  }));
  const { clients, audits } = await captureAndAudit(ctx, 'leaky-client', () =>
    runActivities(env.clientContext(), items),
  );
  await sleep(300); // the gateway's store flushes every 100 ms: anything it saw is on disk now
  const flows = readGatewayFlows(env.files.flowStore).filter((f) => (f.start ?? 0) >= started);
  const checks: Check[] = [];
  checks.push(
    check(
      'the leaky client reaches the service straight over the Internet uplink',
      clients.filter((r) => r.status !== 200).map(describeResult),
      `${clients.length} direct requests from ${clientAddresses.leaky} answered 200`,
    ),
  );
  const leaks = audits.internet.report.findings.leaks.items;
  const leakHosts = new Set(leaks.map((leak) => leak.host));
  const wanted = [...new Set(leaking.map((a) => hostOf(a.url)))];
  checks.push(
    check(
      'the audit of the Internet capture finds each leak with its evidence',
      wanted.filter((host) => !leakHosts.has(host)).map((host) => `${host}: no leak found`),
      leaks
        .map((leak) => `${leak.host} at ${leak.evidence} (${leak.actualPathEvidence}, rule ${leak.rule})`)
        .join('; '),
    ),
  );
  const exceptionHosts = exception.map((a) => hostOf(a.url));
  checks.push(
    check(
      'a documented exception taken directly is not a leak',
      exceptionHosts.filter((host) => leakHosts.has(host)).map((host) => `${host} reported as a leak`),
      `${exceptionHosts.join(', ')}: verdict exception`,
    ),
  );
  const seenByGateway = flows.filter((f) => f.client === clientAddresses.leaky);
  checks.push(
    check(
      'the gateway saw none of it',
      seenByGateway.map((f) => `gateway record for ${f.host}`),
      `0 gateway records from ${clientAddresses.leaky}`,
    ),
  );
  return finish('leaky-client', started, checks, clients, audits, []);
}

export async function pacOnly(ctx: ScenarioContext): Promise<ScenarioResult> {
  const { env } = ctx;
  const started = Date.now();
  const proxies = {
    circuit: `${A.branchClientSide}:${A.squidCircuitPort}`,
    internet: `${A.branchClientSide}:${A.squidInternetPort}`,
  };
  const components = ['saas', 'desktop', 'paas', 'gateway'] as const;
  const pacs = new Map<string, Awaited<ReturnType<typeof loadPac>>>();
  const topology = loadTopologyFile(env.files.topology);
  for (const component of components) {
    // The generator's public function, with the policy the gateway uses (catalog + lab overlay).
    let text = generatePac(ctx.policy, topology, { component });
    if (ctx.mutatePac) text = ctx.mutatePac(text, proxies);
    writeFileSync(join(env.dir, `pac-${component}.js`), text);
    pacs.set(component, await loadPac(text));
  }
  const checks: Check[] = [];
  let run: { clients: ClientResult[]; audits: Record<Uplink, UplinkAudit> };
  env.log('  pac-only: PAC files generated, starting Squid');
  try {
    await env.startSquids();
    env.log('  pac-only: Squid up');
    const items: { activity: Activity; client: string; proxy: string | null }[] = [];
    for (const activity of activities.filter(covered)) {
      const pac = pacs.get(activity.component);
      const answer = (await pac?.findProxy(activity.url, hostOf(activity.url))) ?? 'DIRECT';
      const proxy = /PROXY\s+([^;\s]+)/.exec(answer)?.[1] ?? null;
      items.push({ activity, client: clientAddresses[activity.component], proxy });
    }
    run = await captureAndAudit(ctx, 'pac-only', () => runActivities(env.clientContext(), items));
  } finally {
    await env.stopSquids();
    for (const pac of pacs.values()) pac.dispose();
  }
  const { clients, audits } = run;
  checks.push(
    check(
      'every client works through the PAC and Squid',
      clients.filter((r) => r.status !== 200).map(describeResult),
      `${clients.length} requests answered 200 (mobile left out: the PAC generator refuses it)`,
    ),
  );
  const wrongProxy = clients.filter((r) => r.via !== `proxy ${proxies[expectedUplink(ctx, r.activity)]}`);
  checks.push(
    check(
      "the PAC picks each activity's proxy",
      wrongProxy.map(
        (r) =>
          `${hostOf(r.activity.url)} (${r.activity.component}): PAC says ${r.via}, rule ${expectedOf(ctx, r.activity).rule} wants the ${expectedUplink(ctx, r.activity)} proxy`,
      ),
      `${clients.length} answers, each the proxy of the rule's path`,
    ),
  );
  checks.push(...uplinkChecks(clients, audits, (r) => expectedUplink(ctx, r.activity)));
  return finish('pac-only', started, checks, clients, audits, []);
}

/** Service names a Power BI / Fabric Private Link setup answers with its private endpoint. */
const privateLinkService =
  /(^|\.)(powerbi\.com|analysis\.windows\.net|pbidedicated\.windows\.net|fabric\.microsoft\.com)$/;

/** `api.powerbi.com` -> `api-powerbi-com.privatelink.analysis.windows.net` (the zone Step 5 creates). */
const privateLinkAlias = (host: string) => `${host.replace(/\./g, '-')}.privatelink.analysis.windows.net`;

/**
 * Power BI / Fabric Private Link: the gateway runs the catalog's `private-link` profile, the
 * service names resolve through `privatelink.*` CNAMEs to private-endpoint addresses behind the
 * circuit, and the captures show all of it on the circuit while CDN and third-party exceptions
 * still leave by the Internet. Restores the lab's DNS and gateway afterwards.
 */
export async function privateLink(ctx: ScenarioContext): Promise<ScenarioResult> {
  const { env } = ctx;
  const started = Date.now();
  const policy = Policy.compile(selectProfile(env.catalog, 'private-link'));
  const plCtx: ScenarioContext = { ...ctx, policy };
  // The service names the profile puts on the circuit; the product site, support and feedback
  // pages under powerbi.com stay documented Internet exceptions with their public addresses.
  const serviceActivities = activities.filter((a) => covered(a) && privateLinkService.test(hostOf(a.url)));
  const hosts = [...new Set(serviceActivities.map((a) => hostOf(a.url)))].filter((host) =>
    serviceActivities
      .filter((a) => hostOf(a.url) === host)
      .every((a) => expectedOf(plCtx, a).path === 'expressroute'),
  );
  const base = A.privateEndpointPrefix.replace(/0\/24$/, '');
  const endpoints: PrivateLinkName[] = hosts.map((host, i) => ({
    host,
    alias: privateLinkAlias(host),
    address: `${base}${10 + i}`,
  }));
  const items = activities.filter(covered).map((activity) => ({
    activity,
    client: clientAddresses[activity.component],
    proxy: gatewayProxy,
  }));
  const checks: Check[] = [];
  let run: { clients: ClientResult[]; audits: Record<Uplink, UplinkAudit> };
  let dns: string[] = [];
  await env.stopGateway();
  try {
    await env.startDns(endpoints);
    await env.startGateway(env.files.privateLinkGatewayConfig);
    env.log(
      `  private-link: gateway on profile private-link, ${endpoints.length} names behind privatelink CNAMEs`,
    );
    dns = await env.checkPrivateLinkDns(endpoints);
    run = await captureAndAudit(plCtx, 'private-link', () => runActivities(env.clientContext(), items));
  } finally {
    await env.stopGateway();
    await env.startDns();
    await env.startGateway();
  }
  const { clients, audits } = run;
  const flows = await gatewayFlowsSince(plCtx, started, items.length);
  checks.push(
    check(
      'the service names resolve through privatelink CNAMEs to private endpoints',
      dns,
      endpoints.map((e) => `${e.host} -> ${e.alias} -> ${e.address}`).join('; '),
    ),
  );
  checks.push(
    check(
      'every client works on the private-link profile',
      clients.filter((r) => r.status !== 200).map(describeResult),
      `${clients.length} requests answered 200`,
    ),
  );
  // The names Private Link must carry (app.powerbi.com, api.powerbi.com, *.analysis.windows.net).
  const mustCarry = ['app.powerbi.com', 'api.powerbi.com', 'wabi-west-europe-redirect.analysis.windows.net'];
  checks.push(
    check(
      'the private-link profile puts the front end and the backend on the circuit',
      mustCarry
        .filter((host) => !hosts.includes(host))
        .map((host) => `${host}: not circuit-bound in the profile`),
      `${hosts.length} names behind private endpoints: ${hosts.join(', ')}`,
    ),
  );
  const addressOf = new Map(endpoints.map((e) => [e.host, e.address]));
  const circuitFlows = audits.circuit.flows;
  const onEndpoint: string[] = [];
  for (const e of endpoints) {
    const flow = circuitFlows.find((f) => flowHost(f) === e.host);
    if (!flow) onEndpoint.push(`${e.host}: not in the circuit capture`);
    else if (String(flow.destination).replace(/:\d+$/, '') !== e.address)
      onEndpoint.push(
        `${e.host}: to ${flow.destination} (${packetRef(flow)}), not its private endpoint ${e.address}`,
      );
  }
  checks.push(
    check(
      'the circuit uplink carries every service name to its private endpoint',
      onEndpoint,
      `${endpoints.length} names seen on the circuit capture at their private-endpoint addresses (${[...addressOf.values()].join(', ')})`,
    ),
  );
  const internetService = audits.internet.flows.filter((f) => {
    const host = flowHost(f);
    return (host !== null && addressOf.has(host)) || String(f.destination).startsWith(base);
  });
  checks.push(
    check(
      'the Internet uplink carries none of them',
      internetService.map((f) => `${flowHost(f) ?? f.destination} (${bytesOf(f)} bytes, ${packetRef(f)})`),
      `${audits.internet.flows.length} flows on the Internet uplink, none to a service name or private endpoint`,
    ),
  );
  const wrongEgress = flows
    .filter((f) => f.host !== null && addressOf.has(f.host) && f.egressPath !== 'expressroute')
    .map((f) => `${f.host}: gateway egress ${f.egressPath}`);
  checks.push(
    check(
      'the gateway sends every service name out on the circuit',
      wrongEgress,
      `${flows.filter((f) => f.host !== null && addressOf.has(f.host)).length} gateway records with egress expressroute`,
    ),
  );
  checks.push(...uplinkChecks(clients, audits, (r) => expectedUplink(plCtx, r.activity)));
  return finish('private-link', started, checks, clients, audits, flows);
}

function finish(
  name: ScenarioName,
  started: number,
  checks: Check[],
  clients: ClientResult[],
  audits: Partial<Record<Uplink, UplinkAudit>>,
  gatewayFlows: FlowRecord[],
): ScenarioResult {
  return {
    name,
    passed: checks.every((c) => c.passed),
    checks,
    ms: Date.now() - started,
    clients,
    audits,
    gatewayFlows,
  };
}

export const scenarios: Record<ScenarioName, (ctx: ScenarioContext) => Promise<ScenarioResult>> = {
  baseline,
  'circuit-down': circuitDown,
  'leaky-client': leakyClient,
  'pac-only': pacOnly,
  'private-link': privateLink,
};
