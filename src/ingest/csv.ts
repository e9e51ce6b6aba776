// pathwarden's documented CSV flow form, for sources no other format covers: a header row of
// FlowRecord field names (docs/formats.md), then one flow per row. RFC 4180 quoting, including
// quoted fields that span lines; `,` by default, `;` or tab when the header uses them.
import { emptyFlow, type FlowRecord } from '../flow/record.js';
import { defineFormat, headLines, type LineParser, lineBatches } from './batches.js';
import { CsvRowJoiner, delimiterOf, MAX_ROW_CHARS, splitRow } from './csv-rows.js';
import { assignField, fieldOfColumn, type InputField, namesATarget } from './flow-fields.js';
import type { IngestContext } from './format.js';
import { quote } from './problems.js';

export const csvFormat = defineFormat({
  name: 'csv',
  description: 'CSV with a header row of FlowRecord field names (pathwarden flow form)',
  sniff(head) {
    const header = headLines(head, 1)[0];
    if (header === undefined) return 0;
    const delimiter = delimiterOf(header);
    const columns = splitRow(header, delimiter);
    if (!columns) return 0;
    const fields = columns.map(fieldOfColumn).filter((field) => field !== undefined && field !== null);
    const names = fields.filter(
      (field) => field === 'host' || field === 'destination' || field === 'sni' || field === 'httpHost',
    );
    if (names.length === 0) return 0;
    return fields.length >= 3 && fields.length >= columns.length / 2 ? 0.85 : 0.5;
  },
  parseBatches: lineBatches((ctx) => new CsvLineParser(ctx), { maxLineBytes: MAX_ROW_CHARS }),
});

class CsvLineParser implements LineParser {
  /** Field of each column; null for columns that are ignored (known or reported unknown). */
  #columns: (InputField | null)[] | null = null;
  readonly #rows: CsvRowJoiner;

  constructor(private readonly ctx: IngestContext) {
    this.#rows = new CsvRowJoiner((line, message) => ctx.problem(line, message));
  }

  line(line: string, lineNumber: number, out: FlowRecord[]): void {
    const row = this.#rows.line(line, lineNumber);
    if (row === undefined) return;
    if (this.#columns === null) this.#header(row.text, row.line);
    else this.#row(row.cells, row.line, out);
  }

  end(): void {
    this.#rows.end();
  }

  #header(text: string, lineNumber: number): void {
    this.#rows.delimiter = delimiterOf(text);
    const names = splitRow(text, this.#rows.delimiter) ?? [];
    this.#columns = names.map((name) => {
      const field = fieldOfColumn(name);
      if (field === undefined) {
        this.ctx.problem(lineNumber, `unknown column ${quote(name)}; its values are ignored`, name);
        return null;
      }
      return field;
    });
    if (
      !this.#columns.some(
        (field) => field === 'host' || field === 'destination' || field === 'sni' || field === 'httpHost',
      )
    ) {
      this.ctx.problem(
        lineNumber,
        'the header names none of host, sni, httpHost, destination: no row can be classified',
      );
    }
  }

  #row(cells: string[], lineNumber: number, out: FlowRecord[]): void {
    const columns = this.#columns as (InputField | null)[];
    if (cells.length === 1 && cells[0]?.trim() === '') return; // blank after quotes / spaces
    if (cells.length !== columns.length) {
      this.ctx.problem(lineNumber, `row has ${cells.length} cells, the header ${columns.length}`);
      return;
    }
    const flow = emptyFlow({ kind: 'csv', file: this.ctx.file, line: lineNumber });
    for (let i = 0; i < columns.length; i++) {
      const field = columns[i];
      if (field === null || field === undefined) continue;
      const expected = assignField(flow, field, cells[i]);
      if (expected !== undefined) {
        this.ctx.problem(lineNumber, `${field} ${quote(cells[i])} is not ${expected}`, field);
        return;
      }
    }
    if (!namesATarget(flow)) {
      this.ctx.problem(lineNumber, 'row names no host, sni, httpHost or destination; skipped');
      return;
    }
    out.push(flow);
  }
}
