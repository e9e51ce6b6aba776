// CSV rows as every CSV-reading format needs them: RFC 4180 quoting (`"` quotes a cell, `""` is a
// quote inside one), quoted cells that span lines, and the delimiter a header row uses. One
// implementation for pathwarden's CSV flow form and the CSV exports of other tools (Log Analytics).

/** Quoted fields may span lines, but not without end: a row is given up past this many chars. */
export const MAX_ROW_CHARS = 1 << 20;

/** `,` unless the header has none and uses `;` or tab instead. */
export function delimiterOf(header: string): string {
  if (header.includes(',')) return ',';
  if (header.includes('\t')) return '\t';
  if (header.includes(';')) return ';';
  return ',';
}

/**
 * Cells of one CSV row. Undefined when a quoted cell is still open at the end of the text (the
 * row goes on on the next line).
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

/** A whole row: its cells, its text (for the header) and the line it starts on. */
export interface CsvRow {
  cells: string[];
  text: string;
  line: number;
}

/**
 * Joins the lines of a quoted cell that spans lines into one row. Feed it every line; it returns a
 * row when one is complete. Problems (a row never closed) go to `problem`.
 */
export class CsvRowJoiner {
  delimiter = ',';
  #pending = '';
  #pendingLine = 0;

  constructor(private readonly problem: (line: number, message: string) => void) {}

  line(line: string, lineNumber: number): CsvRow | undefined {
    let text = line;
    let rowLine = lineNumber;
    if (this.#pending !== '') {
      text = `${this.#pending}\n${line}`;
      rowLine = this.#pendingLine;
    }
    const cells = splitRow(text, this.delimiter);
    if (cells === undefined) {
      if (text.length > MAX_ROW_CHARS) {
        this.problem(rowLine, `quoted field not closed within ${MAX_ROW_CHARS} characters; row skipped`);
        this.#pending = '';
        return undefined;
      }
      this.#pending = text;
      this.#pendingLine = rowLine;
      return undefined;
    }
    this.#pending = '';
    return { cells, text, line: rowLine };
  }

  end(): void {
    if (this.#pending !== '')
      this.problem(this.#pendingLine, 'quoted field not closed at the end of the input');
  }
}
