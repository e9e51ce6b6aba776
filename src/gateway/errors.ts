// The gateway's wire error codes: what a client sees (HTTP status, `X-Pathwarden-Error` header and a
// readable body) and what the flow record says (`error`, `outcome`). One catalogue, documented in
// docs/gateway.md (a test keeps the two in step); callers branch on the code, never on the message.
import type { FlowOutcome } from '../flow/record.js';

interface GatewayErrorSpec {
  /** HTTP status sent to the client (when a response can still be sent). */
  status: number;
  /** Outcome of the flow record: `denied` by policy, `blocked` because its path is unavailable. */
  outcome: FlowOutcome;
  summary: string;
}

export const gatewayErrorCodes = {
  PW_GW_BAD_REQUEST: {
    status: 400,
    outcome: 'error',
    summary: 'The request head is malformed (request line, header syntax, bare LF, obs-fold, bad target).',
  },
  PW_GW_BAD_FRAMING: {
    status: 400,
    outcome: 'error',
    summary:
      'The request body framing is ambiguous or invalid (Content-Length with Transfer-Encoding, duplicate Content-Length, a coding other than chunked, Connection naming a framing header, a bad chunk).',
  },
  PW_GW_HEADERS_TOO_LARGE: {
    status: 431,
    outcome: 'error',
    summary: 'The request head is larger than limits.headerBytes.',
  },
  PW_GW_HEADERS_TIMEOUT: {
    status: 408,
    outcome: 'error',
    summary: 'The request head was not complete within limits.headersTimeoutMs of its first byte.',
  },
  PW_GW_NOT_A_PROXY_REQUEST: {
    status: 400,
    outcome: 'error',
    summary:
      'An origin-form request (GET /path) was sent to the proxy itself; use the gateway as a proxy (curl -x).',
  },
  PW_GW_UNSUPPORTED: {
    status: 501,
    outcome: 'error',
    summary:
      'The request uses something the gateway does not forward (an https:// absolute URL, a scheme other than http).',
  },
  PW_GW_VERSION_UNSUPPORTED: {
    status: 505,
    outcome: 'error',
    summary: 'The HTTP version is not 1.0 or 1.1.',
  },
  PW_GW_AUTH_REQUIRED: {
    status: 407,
    outcome: 'denied',
    summary: 'Proxy authentication is configured and the request has no valid Proxy-Authorization.',
  },
  PW_GW_CLIENT_DENIED: {
    status: 403,
    outcome: 'denied',
    summary: 'The client address is not in the `clients` allow-list.',
  },
  PW_GW_PORT_DENIED: {
    status: 403,
    outcome: 'denied',
    summary: 'The destination port is not in `ports`.',
  },
  PW_GW_DESTINATION_DENIED: {
    status: 403,
    outcome: 'denied',
    summary:
      'The destination (or one of the addresses its name resolves to) is in a denied range (loopback, private, link-local, CGNAT, metadata, ...) that `allowDestinations` does not cover, or is the gateway itself.',
  },
  PW_GW_UNKNOWN_DENIED: {
    status: 403,
    outcome: 'denied',
    summary: 'No catalog rule matches the destination and `decisions.unknown` is `deny`.',
  },
  PW_GW_NOT_COVERED_DENIED: {
    status: 403,
    outcome: 'denied',
    summary: 'The component is not covered by the catalog (mobile) and `decisions.notCovered` is `deny`.',
  },
  PW_GW_SNI_MISMATCH: {
    status: 403,
    outcome: 'denied',
    summary:
      'The TLS server name differs from the CONNECT host and `decisions.sniMismatch` is `reject` (the tunnel is closed with a TLS access_denied alert).',
  },
  PW_GW_BAD_CLIENT_HELLO: {
    status: 400,
    outcome: 'error',
    summary: 'The tunnel started a TLS handshake record that is not a well-formed ClientHello.',
  },
  PW_GW_CLIENT_HELLO_TIMEOUT: {
    status: 408,
    outcome: 'error',
    summary: 'A TLS ClientHello started but was not complete within limits.headersTimeoutMs.',
  },
  PW_GW_DNS_FAILED: {
    status: 502,
    outcome: 'error',
    summary: 'The destination name does not resolve (no `resolve` entry and no DNS answer).',
  },
  PW_GW_CIRCUIT_DOWN: {
    status: 503,
    outcome: 'blocked',
    summary:
      'The destination must ride the ExpressRoute circuit and its health probe says the circuit egress is down; the gateway fails closed.',
  },
  PW_GW_INTERNET_DOWN: {
    status: 503,
    outcome: 'blocked',
    summary: 'The Internet egress health probe says that path is down.',
  },
  PW_GW_UPSTREAM_REFUSED: {
    status: 502,
    outcome: 'blocked',
    summary:
      'The outbound connection on the chosen egress failed (refused, unreachable, source address not available); never retried on the other path.',
  },
  PW_GW_CONNECT_TIMEOUT: {
    status: 502,
    outcome: 'blocked',
    summary: 'The outbound connection on the chosen egress did not complete within limits.connectTimeoutMs.',
  },
  PW_GW_UPSTREAM_PROXY_ERROR: {
    status: 502,
    outcome: 'blocked',
    summary: "The egress's upstream proxy answered CONNECT with a status other than 2xx, or not in HTTP.",
  },
  PW_GW_BAD_UPSTREAM_RESPONSE: {
    status: 502,
    outcome: 'error',
    summary: 'The origin (or upstream proxy) sent a malformed or ambiguous response head or body framing.',
  },
  PW_GW_UPSTREAM_RESET: {
    status: 502,
    outcome: 'error',
    summary: 'The origin (or upstream proxy) closed or reset the connection before the exchange completed.',
  },
  PW_GW_UPSTREAM_TIMEOUT: {
    status: 504,
    outcome: 'error',
    summary: 'The origin sent nothing for limits.idleTimeoutMs while a response was awaited.',
  },
  PW_GW_CLIENT_ABORTED: {
    status: 400,
    outcome: 'error',
    summary: 'The client closed or reset the connection before the exchange completed (no response is sent).',
  },
  PW_GW_IDLE_TIMEOUT: {
    status: 408,
    outcome: 'forwarded',
    summary: 'A tunnel carried no bytes for limits.idleTimeoutMs and was closed (the flow was forwarded).',
  },
  PW_GW_INTERNAL: {
    status: 500,
    outcome: 'error',
    summary: 'A bug in the gateway; the message and the log carry the details (please report it).',
  },
  PW_GW_SHUTDOWN: {
    status: 503,
    outcome: 'error',
    summary: 'The gateway was shutting down: the connection was still open when the drain time ran out.',
  },
} as const satisfies Record<string, GatewayErrorSpec>;

export type GatewayErrorCode = keyof typeof gatewayErrorCodes;

/** A refusal or failure with a wire code; `message` is the readable sentence sent to the client. */
export class GatewayError extends Error {
  readonly code: GatewayErrorCode;

  constructor(code: GatewayErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatewayError';
    this.code = code;
  }

  get status(): number {
    return gatewayErrorCodes[this.code].status;
  }

  get outcome(): FlowOutcome {
    return gatewayErrorCodes[this.code].outcome;
  }
}

export function isGatewayError(value: unknown): value is GatewayError {
  return value instanceof GatewayError;
}

const reasonPhrases: Record<number, string> = {
  400: 'Bad Request',
  403: 'Forbidden',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
};

/**
 * The complete HTTP/1.1 error response for a code: the code in a header (for programs) and in the
 * first word of a plain-text body (for people reading curl's output). Always `Connection: close`:
 * after a refusal the rest of the connection's bytes cannot be trusted to be framed.
 */
export function errorResponse(error: GatewayError, extraHeaders = ''): string {
  const body = `${error.code}: ${error.message}\n`;
  return (
    `HTTP/1.1 ${error.status} ${reasonPhrases[error.status] ?? 'Error'}\r\n` +
    `X-Pathwarden-Error: ${error.code}\r\n` +
    `Content-Type: text/plain; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    `Connection: close\r\n${extraHeaders}\r\n${body}`
  );
}
