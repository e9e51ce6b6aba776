// Located problems of an audit: bad records (file:line: reason) and inputs that could not be
// read. Every problem is counted per file; only the first `limit` are kept with their text, so a
// log that is bad on every line cannot exhaust memory.
export interface AuditProblem {
  file: string;
  /** 1-based line, entry index or packet number, as the format numbers its records. */
  line: number;
  message: string;
}

export interface InputFailure {
  file: string;
  message: string;
}

export class ProblemLog {
  readonly limit: number;
  readonly listed: AuditProblem[] = [];
  readonly byFile = new Map<string, number>();
  /** Inputs that could not be opened, recognised or read to the end. */
  readonly inputs: InputFailure[] = [];
  #total = 0;

  constructor(limit = 1000) {
    this.limit = limit;
  }

  add(file: string, line: number, message: string): AuditProblem {
    const problem = { file, line, message };
    this.#total++;
    this.byFile.set(file, (this.byFile.get(file) ?? 0) + 1);
    if (this.listed.length < this.limit) this.listed.push(problem);
    return problem;
  }

  /** Counts `count` more problems of `file` whose text is not kept (merging a worker's part). */
  countMore(file: string, count: number): void {
    if (count <= 0) return;
    this.#total += count;
    this.byFile.set(file, (this.byFile.get(file) ?? 0) + count);
  }

  addInput(file: string, message: string): void {
    this.inputs.push({ file, message });
  }

  countFor(file: string): number {
    return this.byFile.get(file) ?? 0;
  }

  get total(): number {
    return this.#total;
  }

  get omitted(): number {
    return this.#total - this.listed.length;
  }
}
