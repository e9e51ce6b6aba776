// pathwarden's documented CSV flow form, for sources no other format covers: a header row of
// FlowRecord field names (docs/formats.md), then one flow per row. RFC 4180 quoting, including
// quoted fields that span lines; `,` by default, `;` or tab when the header uses them.
import { emptyFlow, type FlowRecord } from '../flow/record.js';
import { defineFormat, headLines, type LineParser, lineBatches } from './batches.js';
import { assignField, fieldOfColumn, type InputField, namesATarget } from './flow-fields.js';
import type { IngestContext } from './format.js';
import { quote } from './problems.js';

/** Quoted fields may span lines, but not without end: a row is given up past this many bytes. */
const MAX_ROW_CHARS = 1 << 20;

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

/** `,` unless the header has none and uses `;` or tab instead. */
function delimiterOf(header: string): string {
  if (header.includes(',')) return ',';
  if (header.includes('\t')) return '\t';
  if (header.includes(';')) return ';';
  return ',';
}

/**
 * Cells of one CSV row (RFC 4180: `"` quotes a cell, `""` is a quote inside one). Undefined when a
 * quoted cell is still open at the end of the text (the row goes on on the next line).
 */
export function splitRow(text: string, delimiter: string): string[] | undefined {
  const cells: string[] = [];
  let i = 0;
  for (;;) {
    if (text.charCodeAt(i) === 0x22) {
      let cell = '';
      let from = i + 1;
      for (;;) {
        const quoteAt = text.indexOf('"', from);
        if (quoteAt < 0) return undefined;
        cell += text.slice(from, quoteAt);
        if (text.charCodeAt(quoteAt + 1) === 0x22) {
          cell += '"';
          from = quoteAt + 2;
          continue;
        }
        i = quoteAt + 1;
        break;
      }
      // Anything between the closing quote and the delimiter is kept (lenient, like most readers).
      const next = text.indexOf(delimiter, i);
      const end = next < 0 ? text.length : next;
      cells.push(cell + text.slice(i, end));
      if (next < 0) return cells;
      i = next + delimiter.length;
    } else {
      const next = text.indexOf(delimiter, i);
      if (next < 0) {
        cells.push(text.slice(i));
        return cells;
      }
      cells.push(text.slice(i, next));
      i = next + delimiter.length;
    }
  }
}

class CsvLineParser implements LineParser {
  #delimiter = ',';
  /** Field of each column; null for columns that are ignored (known or reported unknown). */
  #columns: (InputField | null)[] | null = null;
  #pending = '';
  #pendingLine = 0;

  constructor(private readonly ctx: IngestContext) {}

  line(line: string, lineNumber: number, out: FlowRecord[]): void {
    let text = line;
    let rowLine = lineNumber;
    if (this.#pending !== '') {
      text = `${this.#pending}\n${line}`;
      rowLine = this.#pendingLine;
    }
    const cells = splitRow(text, this.#delimiter);
    if (cells === undefined) {
      if (text.length > MAX_ROW_CHARS) {
        this.ctx.problem(rowLine, `quoted field not closed within ${MAX_ROW_CHARS} characters; row skipped`);
        this.#pending = '';
        return;
      }
      this.#pending = text;
      this.#pendingLine = rowLine;
      return;
    }
    this.#pending = '';
    if (this.#columns === null) this.#header(text, rowLine);
    else this.#row(cells, rowLine, out);
  }

  end(): void {
    if (this.#pending !== '')
      this.ctx.problem(this.#pendingLine, 'quoted field not closed at the end of the input');
  }

  #header(text: string, lineNumber: number): void {
    this.#delimiter = delimiterOf(text);
    const names = splitRow(text, this.#delimiter) ?? [];
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
