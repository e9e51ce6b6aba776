// The lab's report in three forms: terminal text, the JSON of docs/lab.md, and an HTML page.
import { escapeMarkup } from '../report/escape.js';
import type { LabReport } from './run.js';

/** The JSON shape of docs/lab.md: passed, scenarios with checks, statements with evidence. */
export function labReportJson(report: LabReport): object {
  return {
    passed: report.passed,
    scenarios: report.scenarios.map((scenario) => ({
      name: scenario.name,
      passed: scenario.passed,
      ms: scenario.ms,
      checks: scenario.checks.map(({ name, passed, detail }) => ({ name, passed, detail })),
    })),
    statements: report.statements,
    lab: report.lab,
  };
}

export function renderLabTerminal(report: LabReport): string {
  const lines: string[] = [];
  for (const scenario of report.scenarios) {
    lines.push(
      `${scenario.passed ? 'PASS' : 'FAIL'} ${scenario.name} (${(scenario.ms / 1000).toFixed(1)} s)`,
    );
    for (const check of scenario.checks) {
      lines.push(`  ${check.passed ? 'ok  ' : 'FAIL'} ${check.name}`);
      if (!check.passed) lines.push(`       ${check.detail}`);
    }
  }
  const proven = report.statements.filter((s) => s.proven).length;
  lines.push('', `Statements of the seed: ${proven} of ${report.statements.length} proven end to end`);
  for (const statement of report.statements) {
    lines.push(`  ${statement.proven ? 'proven    ' : 'not proven'} ${statement.id}`);
    if (statement.note) lines.push(`             ${statement.note}`);
  }
  lines.push(
    '',
    `${report.passed ? 'PASSED' : 'FAILED'}: ${report.scenarios.filter((s) => s.passed).length}/${report.scenarios.length} scenarios in ${(report.lab.ms / 1000).toFixed(1)} s (lab ${report.lab.id}, files in ${report.lab.dir})`,
    '',
  );
  return lines.join('\n');
}

export function renderLabHtml(report: LabReport): string {
  const e = escapeMarkup;
  const badge = (ok: boolean, yes = 'pass', no = 'fail') =>
    `<span class="${ok ? 'ok' : 'bad'}">${ok ? yes : no}</span>`;
  const scenarios = report.scenarios
    .map(
      (
        scenario,
      ) => `<h2>${badge(scenario.passed)} ${e(scenario.name)} <small>${(scenario.ms / 1000).toFixed(1)} s</small></h2>
<table><thead><tr><th></th><th>check</th><th>evidence</th></tr></thead><tbody>
${scenario.checks.map((c) => `<tr><td>${badge(c.passed)}</td><td>${e(c.name)}</td><td>${e(c.detail)}</td></tr>`).join('\n')}
</tbody></table>`,
    )
    .join('\n');
  const statements = report.statements
    .map(
      (s) =>
        `<tr><td>${badge(s.proven, 'proven', 'not proven')}</td><td>${e(s.id)}</td><td><ul>${s.evidence
          .map((line) => `<li>${e(line)}</li>`)
          .join('')}</ul></td><td>${e(s.note)}</td></tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>pathwarden lab ${e(report.lab.id)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;width:100%;margin-bottom:2em}td,th{border:1px solid #ccc;padding:4px 6px;vertical-align:top;text-align:left}
.ok{color:#fff;background:#2a7d2a;padding:1px 6px;border-radius:3px}.bad{color:#fff;background:#b32;padding:1px 6px;border-radius:3px}
ul{margin:0;padding-left:1.2em}small{color:#666;font-weight:normal}
</style></head><body>
<h1>${badge(report.passed, 'PASSED', 'FAILED')} pathwarden lab ${e(report.lab.id)}</h1>
<p>${report.scenarios.length} scenarios in ${(report.lab.ms / 1000).toFixed(1)} s; files in <code>${e(report.lab.dir)}</code>.</p>
${scenarios}
<h2>Statements of the seed</h2>
<table><thead><tr><th></th><th>statement</th><th>evidence</th><th>note</th></tr></thead><tbody>
${statements}
</tbody></table>
</body></html>
`;
}
