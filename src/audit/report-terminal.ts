// The terminal summary of an audit: verdict counts, bytes per path, top exceptions, unknown
// destinations, every leak with its evidence (file:line), problems and inputs. Plain text that
// reads the same in a terminal, a CI log and an e-mail.
import { verdicts } from '../policy/verdict.js';
import { formatBytes, formatCount, formatShare } from '../report/format.js';
import type { AuditReport, DestinationFinding } from './audit-report.js';
import { seriesPaths } from './time-series.js';

export interface TerminalOptions {
  /** Leak lines shown before "... and N more" (default 100). */
  leaks?: number;
  /** Problem lines shown (default 10). */
  problems?: number;
}

const verdictNotes: Record<(typeof verdicts)[number], string> = {
  ok: 'took the path the catalog expects',
  leak: 'circuit-bound traffic that crossed the public Internet',
  exception: 'documented exception over the Internet',
  unknown: 'no catalog rule for the destination',
  unverified: 'rule known, actual path not known',
  'not-covered': 'component outside the catalog source (mobile)',
};

export function renderTerminalReport(report: AuditReport, options: TerminalOptions = {}): string {
  const out: string[] = [];
  const read = report.inputs.filter((input) => input.status === 'read' || input.status === 'empty').length;
  out.push(
    `pathwarden audit: ${formatCount(report.flows)} flows from ${read} input${read === 1 ? '' : 's'}` +
      ` (catalog ${report.catalog.name} ${report.catalog.version}, profile ${report.catalog.profile}; topology ${report.topology.file ?? 'none: actual paths unknown'})`,
  );
  if (report.timeRange.first) out.push(`time range ${report.timeRange.first} .. ${report.timeRange.last}`);

  out.push('', 'Verdicts');
  out.push(
    ...table(
      ['', 'flows', 'share', 'bytes', ''],
      verdicts.map((verdict) => [
        verdict,
        formatCount(report.verdicts[verdict]),
        formatShare(report.verdicts[verdict], report.flows),
        formatBytes(report.bytes.byVerdict[verdict].up + report.bytes.byVerdict[verdict].down),
        verdictNotes[verdict],
      ]),
      'lrrrl',
    ),
  );

  out.push('', 'Bytes per actual path');
  out.push(
    ...table(
      ['', 'flows', 'up', 'down', 'total'],
      seriesPaths.map((path) => {
        const bytes = report.bytes.byPath[path];
        return [
          path,
          formatCount(report.paths[path].flows),
          formatBytes(bytes.up),
          formatBytes(bytes.down),
          formatBytes(bytes.up + bytes.down),
        ];
      }),
      'lrrrr',
    ),
  );

  if (!report.destinations.complete) {
    // The destination table stopped growing at its limit (docs/audit.md): later destinations'
    // flows are counted in the totals (and the reports' "other" row), not listed by name.
    const tracked = formatCount(report.destinations.distinct);
    out.push(
      '',
      `Destinations: more than ${tracked} distinct destinations; flows to those after the first ${tracked} are in every total above, not in the destination lists below (--json: destinations.complete false)`,
    );
  }
  findingTable(out, 'Top exceptions (documented, over the Internet)', report.findings.exceptions);
  findingTable(out, 'Unknown destinations (no catalog rule)', report.findings.unknown);

  const leaks = report.findings.leaks;
  out.push('', leaks.total === 0 ? 'Leaks: none' : `Leaks (${formatCount(leaks.total)})`);
  const shown = leaks.items.slice(0, options.leaks ?? 100);
  for (const leak of shown) {
    const target = `${leak.host}${leak.destination && leak.destination !== leak.host ? ` -> ${leak.destination}` : ''}${leak.port === null ? '' : `:${leak.port}`}`;
    out.push(
      `  ${leak.evidence}  ${target}  internet (${leak.actualPathEvidence ?? 'no evidence'})  rule ${leak.rule ?? '-'}${leak.time ? `  ${leak.time}` : ''}${leak.client ? `  client ${leak.client}` : ''}`,
    );
  }
  if (leaks.total > shown.length) {
    out.push(
      `  ... and ${formatCount(leaks.total - shown.length)} more${leaks.omitted > 0 ? ` (the reports list the first ${formatCount(leaks.items.length)})` : ' (all are in --json and --html)'}`,
    );
  }

  const errors = report.errors;
  const files = Object.keys(errors.byFile).length;
  if (errors.total > 0) {
    out.push(
      '',
      `Problems: ${formatCount(errors.total)} bad record${errors.total === 1 ? '' : 's'} in ${files} file${files === 1 ? '' : 's'} (skipped)`,
    );
    const limit = options.problems ?? 10;
    for (const problem of errors.problems.slice(0, limit)) {
      out.push(`  ${problem.file}:${problem.line}: ${problem.message}`);
    }
    if (errors.total > Math.min(limit, errors.problems.length)) {
      out.push(`  ... and ${formatCount(errors.total - Math.min(limit, errors.problems.length))} more`);
    }
  }
  // Inputs skipped or failed are shown with their reason in the inputs table below.

  out.push('', 'Inputs');
  out.push(
    ...table(
      ['file', 'format', 'records', 'flows', 'problems', ''],
      report.inputs.map((input) => [
        input.file,
        input.format === null
          ? '-'
          : `${input.format}${input.log ? ` ${input.log}` : ''}${input.compressed ? ' (gz)' : ''}`,
        formatCount(input.records),
        formatCount(input.flows),
        formatCount(input.problems),
        input.status === 'read' ? '' : `${input.status}${input.message ? `: ${input.message}` : ''}`,
      ]),
      'llrrrl',
    ),
  );
  if (report.zeek.joined > 0) {
    out.push(`Zeek: ${formatCount(report.zeek.joined)} conn records named from ssl/http records by uid`);
  }
  if (report.dns.answers > 0)
    out.push(`DNS: ${formatCount(report.dns.answers)} answers used to name addresses`);
  return `${out.join('\n')}\n`;
}

function findingTable(out: string[], title: string, findings: readonly DestinationFinding[]): void {
  if (findings.length === 0) return;
  out.push('', title);
  out.push(
    ...table(
      ['destination', 'rule', 'flows', 'bytes', 'last seen'],
      findings.map((finding) => [
        finding.destination,
        finding.rule ?? '-',
        formatCount(finding.flows),
        formatBytes(finding.bytesUp + finding.bytesDown),
        finding.lastSeen ?? '-',
      ]),
      'llrrl',
    ),
  );
}

/** Aligned columns; `align` has one `l` or `r` per column. The header row is indented like rows. */
function table(header: readonly string[], rows: readonly (readonly string[])[], align: string): string[] {
  const widths = header.map((title, i) =>
    Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    `  ${cells
      .map((cell, i) =>
        align[i] === 'r' ? cell.padStart(widths[i] as number) : cell.padEnd(widths[i] as number),
      )
      .join('  ')}`.trimEnd();
  return [line(header), ...rows.map(line)];
}
