// --json: the AuditReport object (schema pathwarden.audit/v1, documented in docs/audit.md),
// pretty-printed so that it diffs well in review and CI artifacts.
import type { AuditReport } from './audit-report.js';

export function renderJsonReport(report: AuditReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
