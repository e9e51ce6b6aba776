// Problem reporting shared by every ingest format: one wording for a bad field, values clipped so a
// garbage line cannot flood the report, and "say it once per input" for file-level notices.
import type { IngestContext } from './format.js';

const MAX_QUOTED = 80;

/** A value quoted for a problem message, clipped and with control characters made visible. */
export function quote(value: unknown): string {
  let text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  if (text.length > MAX_QUOTED) text = `${text.slice(0, MAX_QUOTED)}...`;
  return JSON.stringify(text);
}

/** Reports `field "value" is not <expected>` at `line`. */
export function badField(
  ctx: IngestContext,
  line: number,
  field: string,
  value: unknown,
  expected: string,
): void {
  ctx.problem(line, `${field} ${quote(value)} is not ${expected}`, field);
}

/** Reports a required field that is absent or empty. */
export function missingField(ctx: IngestContext, line: number, field: string): void {
  ctx.problem(line, `${field} is missing`, field);
}

/** Reports each distinct `key` only the first time it is seen in one input (e.g. an unknown column). */
export class OnceReporter {
  readonly #seen = new Set<string>();

  constructor(private readonly ctx: IngestContext) {}

  report(key: string, line: number, message: string, field?: string): void {
    if (this.#seen.has(key)) return;
    this.#seen.add(key);
    this.ctx.once?.(key);
    this.ctx.problem(line, message, field);
  }
}

/** Message of an unknown thrown value (JSON.parse errors, stream errors). */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
