// Parses YAML (or JSON) input against a zod schema and reports every problem with its file, line,
// column and field. Catalogs, topologies and gateway configs all come through here.
import { isMap, isNode, isSeq, LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import type { Location, Problem } from '../errors.js';

export type Locate = (path: readonly PropertyKey[]) => Location;

export interface LocatedParse<T> {
  value?: T;
  problems: Problem[];
  /** Location of a field path in the document (missing fields point at their parent). */
  locate: Locate;
}

export function parseLocatedYaml<S extends z.ZodType>(
  text: string,
  file: string,
  schema: S,
): LocatedParse<z.output<S>> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const locate: Locate = (path) => {
    let node: unknown = doc.contents;
    let found = node;
    for (const key of path) {
      if (!(isMap(node) || isSeq(node))) break;
      node = node.get(key as never, true);
      if (node === undefined) break;
      found = node;
    }
    const offset = isNode(found) && found.range ? found.range[0] : 0;
    const { line, col } = lineCounter.linePos(offset);
    return { file, line, column: col, field: formatField(path) };
  };
  const problems: Problem[] = doc.errors.map((error) => {
    const { line, col } = lineCounter.linePos(error.pos[0]);
    return { message: error.message.split('\n')[0] ?? error.message, location: { file, line, column: col } };
  });
  if (problems.length > 0) return { problems, locate };
  let plain: unknown;
  try {
    // The yaml library refuses aliases that expand beyond maxAliasCount nodes (an alias bomb).
    plain = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const offset = firstAliasOffset(text);
    const { line, col } = lineCounter.linePos(offset);
    problems.push({
      message: `YAML aliases expand too far (more than ${MAX_ALIAS_COUNT} nodes): ${message}`,
      location: { file, line, column: col },
    });
    return { problems, locate };
  }
  const parsed = schema.safeParse(plain);
  if (!parsed.success) {
    for (const issue of parsed.error.issues)
      problems.push({ message: issue.message, location: locate(issue.path) });
    return { problems, locate };
  }
  return { value: parsed.data, problems, locate };
}

/**
 * The plain value of a YAML (or JSON) text that parses without any problem, read as
 * parseLocatedYaml reads it; undefined when it has one (parseLocatedYaml then says which).
 */
export function plainYaml(text: string): unknown {
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) return undefined;
  try {
    return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch {
    return undefined;
  }
}

/** The yaml library's default; named here so the problem can say it. */
const MAX_ALIAS_COUNT = 100;

/** Where the first alias (`*name`) of the text is, for locating an alias-bomb problem. */
function firstAliasOffset(text: string): number {
  const match = /(^|[\s[{,])\*[^\s,\]}]+/m.exec(text);
  return match ? match.index + (match[1] ?? '').length : 0;
}

export function formatField(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out;
}

/** `rules[3].hosts[0]` -> ['rules', 3, 'hosts', 0] */
export function splitField(field: string): (string | number)[] {
  const keys: (string | number)[] = [];
  for (const match of field.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) {
    keys.push(match[2] !== undefined ? Number(match[2]) : (match[1] as string));
  }
  return keys;
}
