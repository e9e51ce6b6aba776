// pathwarden's NDJSON flow form: one FlowRecord-like JSON object per line, with the same field
// names as the CSV form. It is also what `audit --ndjson` writes, so classified records read back:
// their classification fields are accepted and ignored (they are recomputed).
import { emptyFlow, type FlowRecord } from '../flow/record.js';
import { defineFormat, headLines, type LineParser, lineBatches } from './batches.js';
import { assignField, fieldOfColumn, namesATarget } from './flow-fields.js';
import type { IngestContext } from './format.js';
import { errorMessage, OnceReporter, quote } from './problems.js';

export const ndjsonFormat = defineFormat({
  name: 'ndjson',
  description:
    'NDJSON, one FlowRecord-like object per line (pathwarden flow form; what audit --ndjson writes)',
  sniff(head) {
    const first = headLines(head, 1)[0];
    if (first === undefined || !first.startsWith('{')) return 0;
    let record: unknown;
    try {
      record = JSON.parse(first);
    } catch {
      return 0;
    }
    if (record === null || typeof record !== 'object' || Array.isArray(record)) return 0;
    const fields = Object.keys(record).map(fieldOfColumn);
    const known = fields.filter((field) => field !== undefined).length;
    const names = fields.filter(
      (field) => field === 'host' || field === 'destination' || field === 'sni' || field === 'httpHost',
    );
    if (names.length === 0 || known < 2) return 0;
    return known >= fields.length / 2 ? 0.85 : 0.45;
  },
  parseBatches: lineBatches((ctx) => new NdjsonLineParser(ctx)),
});

class NdjsonLineParser implements LineParser {
  readonly #once: OnceReporter;

  constructor(private readonly ctx: IngestContext) {
    this.#once = new OnceReporter(ctx);
  }

  line(line: string, lineNumber: number, out: FlowRecord[]): void {
    const ctx = this.ctx;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch (error) {
      ctx.problem(lineNumber, `not valid JSON: ${errorMessage(error)}`);
      return;
    }
    if (record === null || typeof record !== 'object' || Array.isArray(record)) {
      ctx.problem(lineNumber, 'not a JSON object');
      return;
    }
    const flow = emptyFlow({ kind: 'ndjson', file: ctx.file, line: lineNumber });
    for (const [key, value] of Object.entries(record)) {
      const field = fieldOfColumn(key);
      if (field === undefined) {
        this.#once.report(
          `key:${key}`,
          lineNumber,
          `unknown field ${quote(key)}; ignored (reported once)`,
          key,
        );
        continue;
      }
      if (field === null) continue;
      const expected = assignField(flow, field, value);
      if (expected !== undefined) {
        ctx.problem(lineNumber, `${field} ${quote(value)} is not ${expected}`, field);
        return;
      }
    }
    if (!namesATarget(flow)) {
      ctx.problem(lineNumber, 'record names no host, sni, httpHost or destination; skipped');
      return;
    }
    out.push(flow);
  }
}
