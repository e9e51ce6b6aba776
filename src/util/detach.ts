// Strings kept for the whole audit (map keys, leak evidence, the classification cache's keys) are
// copied out of the text they were sliced from: V8 may represent `line.slice(a, b)` as a view that
// keeps the whole line, or the whole read chunk, alive, and a long-lived map of such views would pin
// megabytes per entry.

/**
 * A fresh copy of `text` that references no larger string. Call only when storing, not per flow.
 *
 * A well-formed string (every one-byte string, V8 answers that without a scan) is copied by a JSON
 * round trip: JSON.parse builds a new sequential string. That costs about half of the round trip
 * through a UTF-8 Buffer (about 0.8 against 1.7 us per host name in a fresh process, where an audit
 * copies one or two per first flow of each key); a string with a lone surrogate still goes through
 * the Buffer, which turns the surrogate into U+FFFD, so the copy is the same text as before.
 */
export function detach(text: string): string {
  if (text === '') return '';
  // Past 2^26 characters the escaped JSON of a string of control characters could pass V8's
  // string length limit; such a string (never a host or a line, both capped far below) takes the
  // Buffer's way.
  return text.length < JSON_COPY_MAX && (text as string & WellFormedCheck).isWellFormed()
    ? (JSON.parse(JSON.stringify(text)) as string)
    : Buffer.from(text, 'utf8').toString('utf8');
}

/** Longest text copied by the JSON round trip (its escaped form stays under V8's string limit). */
const JSON_COPY_MAX = 2 ** 26;

export function detachOrNull(text: string | null): string | null {
  return text === null ? null : detach(text);
}

/** `String.prototype.isWellFormed` (Node 20; ES2024, past the lib this project compiles against). */
interface WellFormedCheck {
  isWellFormed(): boolean;
}
