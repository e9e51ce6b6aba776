// The one catalogue of pathwarden's error codes. Callers branch on `code`, never on the message;
// docs/errors.md documents every code (a test keeps the two in step).

export const errorCodes = {
  PW_ERR_USAGE: { exitCode: 2, summary: 'A command was called with missing or invalid arguments.' },
  PW_ERR_TARGET_INVALID: {
    exitCode: 2,
    summary: 'A target given to explain or decide() is not a URL, host name or IP address.',
  },
  PW_ERR_COMPONENT_INVALID: {
    exitCode: 2,
    summary: 'A component is not one of saas, desktop, paas, gateway, mobile.',
  },
  PW_ERR_CATALOG_READ: { exitCode: 2, summary: 'A catalog file could not be read or is not YAML / JSON.' },
  PW_ERR_CATALOG_INVALID: {
    exitCode: 2,
    summary: 'A catalog failed validation (schema, duplicate ids, malformed patterns, conflicting rules).',
  },
  PW_ERR_RULE_NOT_FOUND: { exitCode: 2, summary: 'No rule has the requested id.' },
  PW_ERR_CONFIG_INVALID: {
    exitCode: 2,
    summary: 'A gateway configuration could not be read or failed validation.',
  },
  PW_ERR_TOPOLOGY_INVALID: {
    exitCode: 2,
    summary:
      'A topology file could not be read or failed validation (schema, a proxy or address on both paths).',
  },
} as const;

export type ErrorCode = keyof typeof errorCodes;

/** A source position inside an input file, 1-based like editors show it. */
export interface Location {
  file: string;
  line?: number;
  column?: number;
  /** Dotted path of the offending field, e.g. `rules[3].hosts[0]`. */
  field?: string;
}

export function formatLocation(location: Location): string {
  let text = location.file;
  if (location.line !== undefined) {
    text += `:${location.line}`;
    if (location.column !== undefined) text += `:${location.column}`;
  }
  if (location.field) text += ` (${location.field})`;
  return text;
}

/** One located problem; many of them can be reported at once. */
export interface Problem {
  message: string;
  location?: Location;
}

export function formatProblem(problem: Problem): string {
  return problem.location ? `${formatLocation(problem.location)}: ${problem.message}` : problem.message;
}

export class PathwardenError extends Error {
  readonly code: ErrorCode;
  readonly problems: readonly Problem[];

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; problems?: Problem[] } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PathwardenError';
    this.code = code;
    this.problems = options.problems ?? [];
  }

  get exitCode(): number {
    return errorCodes[this.code].exitCode;
  }
}

export function isPathwardenError(value: unknown): value is PathwardenError {
  return value instanceof PathwardenError;
}
