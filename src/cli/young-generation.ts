// Imported first by the bin (main.ts), before any other module allocates: a `pathwarden gateway`
// process starts with V8's young generation held at its initial size (two 1 MiB semi-spaces), so
// that `limits.youngGeneration: fixed` can keep it there; by default V8 doubles it under allocation
// pressure up to two 16 MiB semi-spaces and keeps them committed, and the gateway's config (default
// `grow`) gives that back once it is read. `fixed` saves about 13 MB at start and 1-2 KB per open
// tunnel and costs 35-45 % more CPU per request (docs/performance.md, Gateway, "Idle memory,
// session 3"). The growth factor is read at every scavenge, so setting it here works; a
// `--max-semi-space-size` only counts on node's own command line.
import { createRequire } from 'node:module';

/**
 * node:v8's setFlagsFromString, loaded only by the processes that set a flag: loading node:v8 (its
 * bindings: heap utilities, serializer, profiler) cost every other command about 5 ms of CPU at
 * start (docs/performance.md, "Start-up, first flows and the report, session 8").
 */
function setFlagsFromString(flags: string): void {
  (createRequire(import.meta.url)('node:v8') as typeof import('node:v8')).setFlagsFromString(flags);
}

/** True for a command line that runs the gateway (not `--check`, not `--help`). */
export function runsGateway(argv: readonly string[]): boolean {
  return (
    argv[0] === 'gateway' && !argv.includes('--check') && !argv.includes('--help') && !argv.includes('-h')
  );
}

/** V8's default growth factor of the semi-spaces (each growth doubles them). */
const DEFAULT_GROWTH_FACTOR = 2;

if (runsGateway(process.argv.slice(2))) {
  setFlagsFromString('--semi-space-growth-factor=1');
  // Scavenges on the main thread alone. A parallel scavenge hands parts of its work to V8's helper
  // threads and waits for them; on a machine whose cores are busy (the clients, the origin and the
  // gateway on 2 CPUs) a helper that is not scheduled holds the pause for milliseconds, though the
  // gateway's survivors take well under a millisecond to copy: with helpers, a fifth of its
  // scavenges took over 2 ms (up to 30 ms), without, a twelfth, and the median pause fell (docs/
  // performance.md, "Gateway request path, session 5"). Read at every scavenge, so setting it here works.
  setFlagsFromString('--no-parallel-scavenge');
}

/**
 * `limits.youngGeneration: grow` in the gateway config (the default): gives the growth back (read at
 * the next scavenge); `fixed` leaves the young generation where this module put it.
 */
export function letYoungGenerationGrow(): void {
  setFlagsFromString(`--semi-space-growth-factor=${DEFAULT_GROWTH_FACTOR}`);
}
