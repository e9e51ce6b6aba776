// Opens the HTML report of the demo audit in Debian's Chromium (playwright-core, no downloaded
// browser): the charts must render, the numbers on the page must be those of the JSON report, the
// page must fetch nothing and log no error. Saves the screenshot that docs/audit.md shows
// (into test-output/; `npm run docs:screenshots` refreshes docs/screenshots/).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runCli } from '../cli/program.js';
import { verdicts } from '../policy/verdict.js';
import { screenshotPath } from '../testing/output.js';
import { needPeers, peers } from '../testing/peers.js';
import { chromiumArgs } from '../util/chromium.js';
import type { AuditReport } from './audit-report.js';
import { seriesPaths } from './time-series.js';

const ready = needPeers('chromium');
const chromiumPath = peers.chromium?.path as string;

let dir: string;
let browser: Browser;
let report: AuditReport;
let htmlFile: string;

beforeAll(async () => {
  if (!ready) return;
  dir = mkdtempSync(join(tmpdir(), 'pathwarden-html-'));
  htmlFile = join(dir, 'report.html');
  const stdout = new PassThrough();
  let out = '';
  stdout.on('data', (chunk) => {
    out += String(chunk);
  });
  const code = await runCli(['audit', '--demo', '--json', '--html', htmlFile], {
    stdin: new PassThrough(),
    stdout,
    stderr: new PassThrough(),
  });
  expect(code).toBe(0);
  report = JSON.parse(out) as AuditReport;
  browser = await chromium.launch({
    executablePath: chromiumPath,
    // A fresh profile per launch (playwright's default): no extensions, no cache, no sync.
    args: [...chromiumArgs],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!ready)('HTML report in Chromium', () => {
  test('renders its charts, shows the JSON report numbers, fetches nothing, logs no error', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
    const problems: string[] = [];
    const requests: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning')
        problems.push(`${message.type()}: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
    page.on('request', (request) => requests.push(request.url()));
    await page.goto(pathToFileURL(htmlFile).href, { waitUntil: 'load' });

    // Charts: three inline SVGs with a real size; the time charts draw one mark per non-zero cell.
    const charts = page.locator('svg.chart');
    expect(await charts.count()).toBe(3);
    for (const chart of await charts.all()) {
      const box = await chart.boundingBox();
      expect(box?.width ?? 0).toBeGreaterThan(100);
      expect(box?.height ?? 0).toBeGreaterThan(50);
    }
    const sumOf = async (selector: string) =>
      page.$$eval(selector, (marks) =>
        marks.reduce((sum, mark) => sum + Number(mark.getAttribute('data-value')), 0),
      );
    const bytesByPath = report.timeSeries.buckets.reduce(
      (sum, bucket) => sum + seriesPaths.reduce((inner, path) => inner + bucket.bytesByPath[path], 0),
      0,
    );
    expect(await sumOf('#chart-path-time rect[data-value]')).toBe(bytesByPath);
    expect(await sumOf('#chart-verdict-time rect[data-value]')).toBe(bytesByPath);
    if (report.flows > 0) {
      expect(await page.locator('#chart-path-time rect[data-value]').count()).toBeGreaterThan(0);
      const firstBar = await page.locator('#chart-destinations rect[data-value]').first().boundingBox();
      expect(firstBar?.width ?? 0).toBeGreaterThan(0);
    }
    expect(await sumOf('#chart-destinations rect[data-value]')).toBe(
      report.destinations.top.reduce((sum, row) => sum + row.bytesUp + row.bytesDown, 0),
    );

    // Numbers: verdict cards, bytes per path, the leak table.
    for (const verdict of verdicts) {
      const text = await page.locator(`[data-verdict="${verdict}"] .count`).textContent();
      expect(Number((text ?? '').replace(/,/g, '')), verdict).toBe(report.verdicts[verdict]);
    }
    for (const path of seriesPaths) {
      const cells = await page.$$eval(`tr[data-path="${path}"] td[data-sort]`, (tds) =>
        tds.map((td) => Number(td.getAttribute('data-sort'))),
      );
      const bytes = report.bytes.byPath[path];
      expect(cells, path).toEqual([report.paths[path].flows, bytes.up, bytes.down, bytes.up + bytes.down]);
    }
    const leakRows = page.locator('#leaks-table tbody tr');
    expect(await leakRows.count()).toBe(report.findings.leaks.items.length);
    const evidence = await page.$$eval('#leaks-table tbody tr td:first-child', (cells) =>
      cells.map((cell) => cell.textContent),
    );
    expect(evidence).toEqual(report.findings.leaks.items.map((leak) => leak.evidence));

    // Accessibility basics: one h1, headed sections, column headers, labelled charts.
    expect(await page.locator('h1').count()).toBe(1);
    expect(await page.locator('section h2').count()).toBeGreaterThanOrEqual(6);
    expect(await page.locator('table:not(:has(thead th[scope="col"]))').count()).toBe(0);
    for (const chart of await charts.all()) {
      const labelledBy = (await chart.getAttribute('aria-labelledby')) ?? '';
      for (const id of labelledBy.split(' ')) expect(await page.locator(`[id="${id}"]`).count()).toBe(1);
    }

    // The top of the page (verdicts, bytes per path, both time charts) for docs/audit.md.
    await page.evaluate('window.scrollTo(0, 0)');
    await page.screenshot({
      path: screenshotPath('audit-report.png'),
      fullPage: false,
    });

    // The sort buttons work and raise no error.
    await page.locator('#inputs-table thead th button').nth(2).click();
    expect(await page.locator('#inputs-table thead th[aria-sort="ascending"]').count()).toBe(1);
    await page.locator('#inputs-table thead th button').nth(2).click();
    expect(await page.locator('#inputs-table thead th[aria-sort="descending"]').count()).toBe(1);

    expect(requests.filter((url) => !url.startsWith('file:'))).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
  }, 60_000);
});
