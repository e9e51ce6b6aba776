// The lab's clients: curl inside the client namespace, one source address per Power BI component,
// through the gateway, through a proxy a PAC file chose, or straight out (the leaky client).
import type { Activity } from './plan.js';
import { runInNs } from './system.js';

export interface ClientResult {
  activity: Activity;
  /** Source address the request left from. */
  client: string;
  /** `proxy HOST:PORT` or `direct`. */
  via: string;
  /** Final HTTP status (0 when no response). */
  status: number;
  /** Status of the proxy's answer to CONNECT (0 when none). */
  connectStatus: number;
  /** `X-Pathwarden-Error` code of a refusal, when the gateway sent one. */
  errorCode: string | null;
  ms: number;
  curlError: string | null;
}

export interface ClientContext {
  ns: string;
  caFile: string;
}

/** Runs one activity with curl; `proxy` is `host:port`, or null for a direct connection. */
export async function runActivity(
  ctx: ClientContext,
  activity: Activity,
  client: string,
  proxy: string | null,
): Promise<ClientResult> {
  const args = [
    '-sS',
    '-v',
    '-o',
    '/dev/null',
    '-w',
    '\nPWLAB %{http_code} %{http_connect} %{time_total}\n',
    '--interface',
    client,
    '--cacert',
    ctx.caFile,
    '--max-time',
    '8',
    '--connect-timeout',
    '4',
  ];
  if (proxy) args.push('--proxy', `http://${proxy}`);
  else args.push('--noproxy', '*');
  if (activity.method === 'POST') {
    const body =
      hostOf(activity.url) === 'login.microsoftonline.com'
        ? 'grant_type=password&username=lab&password=lab'
        : '{"lab":true}';
    args.push('-X', 'POST', '--data', body);
  }
  args.push(activity.url);
  const started = Date.now();
  const result = await runInNs(ctx.ns, 'curl', args, 15_000);
  const ms = Date.now() - started;
  const summary = /PWLAB (\d+) (\d+) ([\d.]+)/.exec(result.stdout);
  const errorCode = /x-pathwarden-error:\s*(PW_[A-Z_]+)/i.exec(result.stderr)?.[1] ?? null;
  const curlError =
    result.code === 0 ? null : (/curl: \(\d+\)[^\n]*/.exec(result.stderr)?.[0] ?? `exit ${result.code}`);
  return {
    activity,
    client,
    via: proxy ? `proxy ${proxy}` : 'direct',
    status: summary ? Number(summary[1]) : 0,
    connectStatus: summary ? Number(summary[2]) : 0,
    errorCode,
    ms,
    curlError,
  };
}

/** Runs activities a few at a time (bounded), keeping their order in the result. */
export async function runActivities(
  ctx: ClientContext,
  items: readonly { activity: Activity; client: string; proxy: string | null }[],
  concurrency = 8,
): Promise<ClientResult[]> {
  const results: ClientResult[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      const item = items[index] as (typeof items)[number];
      results[index] = await runActivity(ctx, item.activity, item.client, item.proxy);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

export const hostOf = (url: string): string => new URL(url).hostname;

export function describeResult(result: ClientResult): string {
  const outcome = result.status
    ? `HTTP ${result.status}`
    : result.connectStatus
      ? `CONNECT ${result.connectStatus}${result.errorCode ? ` ${result.errorCode}` : ''}`
      : (result.curlError ?? 'no answer');
  return `${result.activity.component} ${result.activity.method} ${result.activity.url} via ${result.via}: ${outcome} in ${result.ms} ms`;
}
