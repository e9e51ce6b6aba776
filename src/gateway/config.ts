// The gateway's YAML configuration: schema, defaults and loading with located problems.
// Documented key by key in docs/gateway.md (a test checks every key is there).
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { z } from 'zod';
import { PathwardenError } from '../errors.js';
import { parseHostPattern } from '../match/host.js';
import { parseIp, parsePrefix } from '../match/ip.js';
import { isLoopbackHostPort } from '../util/host-port.js';
import { parseLocatedYaml } from '../util/located-yaml.js';
import { defaultIdleRelease } from './idle-release.js';

const hostPort = z
  .string()
  .regex(
    /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/,
    'expected host:port (IPv6 in brackets), e.g. 127.0.0.1:3128',
  );
const address = z.string().refine((text) => parseIp(text) !== undefined, 'expected an IPv4 or IPv6 address');
const cidr = z
  .string()
  .refine((text) => typeof parsePrefix(text) !== 'string', 'expected a CIDR prefix with no host bits set');

const egressSchema = z.union(
  [
    z.strictObject({ localAddress: address }),
    z.strictObject({ proxy: z.url({ protocol: /^http$/, error: 'expected an http:// proxy URL' }) }),
    z.strictObject({ direct: z.literal(true) }),
  ],
  { error: 'an egress is { localAddress: IP } or { proxy: http://host:port } or { direct: true }' },
);

const flushIntervalMs = z.number().int().min(10).max(60000).default(1000);
const sqlIdentifier = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected a plain identifier (letters, digits, _)');

const probeSchema = z.strictObject({
  /** `tcp` connects to target; `http` sends GET target (an http:// URL) and expects a 2xx/3xx. */
  kind: z.enum(['tcp', 'http']).default('tcp'),
  target: z.string().min(1),
  intervalMs: z.number().int().min(100).default(5000),
  timeoutMs: z.number().int().min(50).default(2000),
  /** Consecutive failures before the path is marked down (and successes before it is up again). */
  failures: z.number().int().min(1).default(2),
});

export const gatewayConfigSchema = z.strictObject({
  listen: hostPort,
  admin: hostPort.default('127.0.0.1:9180'),
  /** Bearer token for the admin API; required when `admin` is not a loopback address. */
  adminToken: z.string().min(16, 'adminToken must be at least 16 characters').optional(),
  egress: z.strictObject({ expressroute: egressSchema, internet: egressSchema }),
  /** Static host -> address map (labs, tests, split-horizon DNS); consulted before DNS. Keys are
   *  names or `*.suffix` patterns (catalog semantics: exact beats wildcard, longest suffix wins). */
  resolve: z
    .record(
      z
        .string()
        .refine((text) => typeof parseHostPattern(text) !== 'string', 'expected a host name or *.suffix'),
      z.union([address, z.array(address).min(1)]),
    )
    .default({}),
  /** CIDRs exempted from the deny ranges (loopback, private, link-local, CGNAT, metadata ...). */
  allowDestinations: z.array(cidr).default([]),
  /** Destination ports clients may reach. */
  ports: z.array(z.number().int().min(1).max(65535)).min(1).default([80, 443]),
  /** This gateway's name in every flow it stores (`gateway` column); default: the host name. */
  id: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[A-Za-z0-9._:-]+$/, 'expected letters, digits and . _ : - (e.g. gw-fra-1)')
    .optional(),
  store: z
    .union(
      [
        z.strictObject({
          kind: z.enum(['duckdb', 'jsonl']).default('duckdb'),
          path: z.string().min(1).default('pathwarden-flows.duckdb'),
          /** Records are written at least this often; after a crash at most this much is lost. */
          flushIntervalMs,
        }),
        z.strictObject({
          kind: z.literal('clickhouse'),
          url: z
            .url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' })
            .default('http://127.0.0.1:8123'),
          database: sqlIdentifier.default('pathwarden'),
          table: sqlIdentifier.default('flows'),
          flushIntervalMs,
          /** Folder for batches ClickHouse has not acknowledged; replayed in order when it answers. */
          spool: z.string().min(1).default('pathwarden-spool'),
          /** Beyond this many bytes in the spool, batches are dropped and counted. */
          spoolMaxBytes: z.number().int().min(65536).default(1073741824),
          /** Create the database and a single-server table when missing. */
          createTables: z.boolean().default(true),
          requestTimeoutMs: z.number().int().min(100).max(600000).default(30000),
        }),
      ],
      {
        error:
          'a store is { kind: duckdb | jsonl, path } or { kind: clickhouse, url, database, table, spool, ... }',
      },
    )
    .default({ kind: 'duckdb', path: 'pathwarden-flows.duckdb', flushIntervalMs: 1000 }),
  decisions: z
    .strictObject({
      /** Egress for destinations whose rule path is `either`. */
      either: z.enum(['expressroute', 'internet']).default('expressroute'),
      /** Destinations no rule matches: send over the Internet egress, or refuse. */
      unknown: z.enum(['internet', 'deny']).default('internet'),
      /** Components the catalog does not cover (mobile). */
      notCovered: z.enum(['internet', 'expressroute', 'deny']).default('deny'),
      /** CONNECT host and TLS SNI disagree: refuse, or decide on the SNI. */
      sniMismatch: z.enum(['reject', 'use-sni']).default('reject'),
    })
    .default({ either: 'expressroute', unknown: 'internet', notCovered: 'deny', sniMismatch: 'reject' }),
  /** Component of the traffic, by client address; first match wins, default `saas`. */
  components: z
    .array(
      z.strictObject({
        clients: z.array(cidr).min(1),
        component: z.enum(['saas', 'desktop', 'paas', 'gateway', 'mobile']),
      }),
    )
    .default([]),
  health: z
    .strictObject({ expressroute: probeSchema.optional(), internet: probeSchema.optional() })
    .default({}),
  /** Proxy authentication (Basic); absent = none. */
  auth: z
    .strictObject({
      users: z.array(z.strictObject({ name: z.string().min(1), password: z.string().min(1) })).min(1),
    })
    .optional(),
  /** Client allow-list; absent = any client that can reach `listen`. */
  clients: z.array(cidr).optional(),
  limits: z
    .strictObject({
      headerBytes: z.number().int().min(1024).max(1048576).default(16384),
      headersTimeoutMs: z.number().int().min(100).default(10000),
      idleTimeoutMs: z.number().int().min(1000).default(300000),
      connectTimeoutMs: z.number().int().min(100).default(5000),
      maxConnections: z.number().int().min(1).default(20000),
      /** At shutdown, how long open requests and tunnels may finish before they are cut. */
      drainTimeoutMs: z.number().int().min(0).max(600000).default(10000),
      /**
       * `fixed`: V8's young generation stays at two 1 MiB semi-spaces (less memory, more frequent
       * scavenges); `grow`: node's default, up to two 16 MiB (src/cli/young-generation.ts).
       */
      youngGeneration: z.enum(['fixed', 'grow']).default('grow'),
      /**
       * How long the gateway must stay quiet after work before it gives memory back (V8's garbage,
       * the store's free pages; src/gateway/idle-release.ts); `0`: never.
       */
      idleReleaseMs: z
        .number()
        .int()
        .min(0)
        .max(3600000)
        .refine((ms) => ms === 0 || ms >= 1000, 'must be 0 (never) or at least 1000')
        .default(defaultIdleRelease.quietMs),
    })
    .default({
      headerBytes: 16384,
      headersTimeoutMs: 10000,
      idleTimeoutMs: 300000,
      connectTimeoutMs: 5000,
      maxConnections: 20000,
      drainTimeoutMs: 10000,
      youngGeneration: 'grow',
      idleReleaseMs: defaultIdleRelease.quietMs,
    }),
  /** The JSON log (pino): one line per flow at `info`, plus start, stop and probe changes. */
  log: z
    .strictObject({
      level: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
      /** File to append to; standard error when absent. */
      file: z.string().min(1).optional(),
    })
    .default({ level: 'info' }),
  /** Optional SOCKS5 listener (host:port). */
  socks: hostPort.optional(),
  /** Catalog files laid over the built-in catalog (as --catalog does). */
  catalog: z.array(z.string()).default([]),
  /** Catalog profile (as --profile does): seed, current (the catalog's default), private-link. */
  profile: z.string().min(1).optional(),
});

export type GatewayConfig = z.output<typeof gatewayConfigSchema>;

/** The gateway's name in stored flows: `id`, else the host name. */
export function gatewayIdOf(config: Pick<GatewayConfig, 'id'>): string {
  return config.id ?? hostname();
}

export function parseGatewayConfig(text: string, file: string): GatewayConfig {
  const parsed = parseLocatedYaml(text, file, gatewayConfigSchema);
  const problems = [...parsed.problems];
  const config = parsed.value;
  if (config && config.adminToken === undefined && !isLoopbackHostPort(config.admin)) {
    problems.push({
      message: `admin ${config.admin} is not a loopback address: set adminToken to expose the admin API`,
      location: parsed.locate(['admin']),
    });
  }
  if (!config || problems.length > 0) {
    throw new PathwardenError(
      'PW_ERR_CONFIG_INVALID',
      `gateway config ${file} has ${problems.length} problem(s)`,
      {
        problems,
      },
    );
  }
  return config;
}

export function loadGatewayConfig(file: string): GatewayConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new PathwardenError(
      'PW_ERR_CONFIG_INVALID',
      `cannot read gateway config ${file}: ${String(cause)}`,
      { cause },
    );
  }
  return parseGatewayConfig(text, file);
}
