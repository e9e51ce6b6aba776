// The browser client: headless Chromium in the client namespace loads a Power BI-like single-page
// app from the lab front end (app.powerbi.com/spa) through a proxy. The page fetches what the web
// app fetches (CDN assets, sign-in assets, the credential POST, backend calls, map tiles,
// telemetry, a custom link) and lists each answer in its DOM, which Chromium prints when done.
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { chromiumArgs } from '../util/chromium.js';
import { type Activity, activities } from './plan.js';
import { runInNs } from './system.js';

/** What the web app does (the SaaS activities), fetched by the page. */
export const browserActivities: readonly Activity[] = activities.filter((a) => a.component === 'saas');

/** The page: one fetch per activity, results as `<li data-status data-url>` items. */
export function spaHtml(requests: readonly Activity[]): string {
  const list = JSON.stringify(requests.map(({ method, url }) => ({ method, url })));
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>Power BI (pathwarden lab)</title></head>
<body><h1>Reports</h1><ul id="results"></ul>
<script>
const requests = ${list};
Promise.all(requests.map((r) =>
  fetch(r.url, r.method === 'POST' ? { method: 'POST', body: 'lab=1', headers: { 'content-type': 'text/plain' } } : {})
    .then((res) => res.json().then((body) => [r.url, res.status, body.side]))
    .catch((error) => [r.url, 0, String(error)])
)).then((rows) => {
  const list = document.getElementById('results');
  for (const [url, status, side] of rows) {
    const item = document.createElement('li');
    item.dataset.url = url;
    item.dataset.status = String(status);
    item.textContent = status + ' ' + side + ' ' + url;
    list.append(item);
  }
  document.title = 'done';
});
</script></body></html>
`;
}

export interface BrowserResult {
  /** URL and HTTP status (0: failed) of each fetch the page made; empty when the page failed. */
  rows: { url: string; status: number }[];
  ms: number;
  error: string | null;
}

/** Base64 SHA-256 of the certificate's public key: what `--ignore-certificate-errors-spki-list` takes. */
export function spkiHash(certFile: string): string {
  const key = new X509Certificate(readFileSync(certFile)).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(key).digest('base64');
}

export async function runBrowser(
  ns: string,
  dir: string,
  certFile: string,
  proxy: string,
  chromium: string,
): Promise<BrowserResult> {
  const profile = mkdtempSync(join(dir, 'chromium-'));
  const started = Date.now();
  try {
    const result = await runInNs(
      ns,
      chromium,
      [
        ...chromiumArgs,
        `--user-data-dir=${profile}`,
        `--proxy-server=http://${proxy}`,
        // Trust exactly the lab origins' key (the lab CA is not in any trust store).
        `--ignore-certificate-errors-spki-list=${spkiHash(certFile)}`,
        '--virtual-time-budget=15000',
        '--dump-dom',
        'https://app.powerbi.com/spa',
      ],
      90_000,
    );
    const rows = [...result.stdout.matchAll(/<li data-url="([^"]*)" data-status="(\d+)">/g)].map((m) => ({
      url: (m[1] ?? '').replace(/&amp;/g, '&'),
      status: Number(m[2]),
    }));
    const error =
      rows.length > 0 ? null : `no results in the page (exit ${result.code}): ${result.stderr.slice(-500)}`;
    return { rows, ms: Date.now() - started, error };
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}
