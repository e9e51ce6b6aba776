// Strings kept for the whole audit (map keys, leak evidence) are copied out of the text they were
// sliced from: V8 may represent `line.slice(a, b)` as a view that keeps the whole line, or the whole
// read chunk, alive, and a long-lived map of such views would pin megabytes per entry.

/** A fresh copy of `text` that references no larger string. Call only when storing, not per flow. */
export function detach(text: string): string {
  return Buffer.from(text, 'utf8').toString('utf8');
}

export function detachOrNull(text: string | null): string | null {
  return text === null ? null : detach(text);
}
