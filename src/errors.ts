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
  PW_ERR_PROFILE_UNKNOWN: { exitCode: 2, summary: 'The catalog has no profile of the requested name.' },
  PW_ERR_CONFIG_INVALID: {
    exitCode: 2,
    summary: 'A gateway configuration could not be read or failed validation.',
  },
  PW_ERR_LISTEN: {
    exitCode: 2,
    summary:
      'A listener (proxy, SOCKS, admin) could not bind its address: the port is in use, the address is not on this host, or binding needs privileges.',
  },
  PW_ERR_TOPOLOGY_INVALID: {
    exitCode: 2,
    summary:
      'A topology file could not be read or failed validation (schema, a proxy or address on both paths).',
  },
  PW_ERR_GENERATE_INVALID: {
    exitCode: 2,
    summary:
      'generate cannot produce a correct output from this catalog, topology and options (e.g. a path with no egress, an unknown region).',
  },
  PW_ERR_OUTPUT_WRITE: { exitCode: 2, summary: 'An output file (-o) could not be written.' },
  PW_ERR_QUERY_INVALID: {
    exitCode: 2,
    summary:
      'A flow query or an admin API parameter is invalid (unknown value, out of range, malformed time).',
  },
  PW_ERR_STORE_OPEN: {
    exitCode: 2,
    summary:
      'The flow store could not be opened (unwritable path, not a store file, locked by another process).',
  },
  PW_ERR_STORE_IO: {
    exitCode: 74,
    summary:
      'Reading or writing the flow store failed (writes are retried, then the records are dropped and counted).',
  },
  PW_ERR_STORE_RECORD_INVALID: {
    exitCode: 2,
    summary:
      'A line of a JSONL flow store is not a flow record; it is reported with its line number and skipped.',
  },
  PW_ERR_UNAUTHORIZED: {
    exitCode: 2,
    summary: 'A request to the admin address lacked the configured bearer token (HTTP 401).',
  },
  PW_ERR_FORBIDDEN_HOST: {
    exitCode: 2,
    summary: 'Without an admin token, a request to the admin address named a non-loopback Host (HTTP 403).',
  },
  PW_ERR_NOT_FOUND: { exitCode: 2, summary: 'Nothing on the admin address answers this path (HTTP 404).' },
  PW_ERR_METHOD: {
    exitCode: 2,
    summary: 'A request to the admin address used a method the endpoint does not answer (HTTP 405).',
  },
  PW_ERR_INTERNAL: { exitCode: 70, summary: 'An unexpected failure: a bug; please report it.' },
  PW_ERR_INPUT_READ: {
    exitCode: 2,
    summary:
      'An audit input could not be opened or read to its end (missing file, permission, corrupt gzip).',
  },
  PW_ERR_INPUT_FORMAT: {
    exitCode: 2,
    summary: 'The format of an audit input could not be detected from its content (name it with --format).',
  },
  PW_ERR_INPUT_RECORD: { exitCode: 2, summary: 'With audit --strict, an input had a bad record.' },
  PW_ERR_LAB_PREREQUISITES: {
    exitCode: 2,
    summary:
      'lab run needs Linux, root and programs that are missing (the message names the apt-get command).',
  },
  PW_ERR_LAB_SETUP: {
    exitCode: 70,
    summary:
      'The lab could not be built or driven (a namespace, link, origin, DNS, proxy or capture failed to start).',
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
