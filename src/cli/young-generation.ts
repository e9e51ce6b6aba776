// Imported first by the bin (main.ts), before any other module allocates: a `pathwarden gateway`
// process keeps V8's young generation at its initial size (two 1 MiB semi-spaces). By default V8
// doubles it under allocation pressure up to two 16 MiB semi-spaces and keeps them committed: for
// the gateway that was 8 MB more RSS once its modules were loaded and 16 MB more once tunnels or
// requests had run (docs/performance.md, Gateway, "Idle memory, session 3", with the cost in GC
// time). The growth factor is read at every scavenge, so setting it here works; a
// `--max-semi-space-size` only counts on node's own command line.
import { setFlagsFromString } from 'node:v8';

/** True for a command line that runs the gateway (not `--check`, not `--help`). */
export function runsGateway(argv: readonly string[]): boolean {
  return (
    argv[0] === 'gateway' && !argv.includes('--check') && !argv.includes('--help') && !argv.includes('-h')
  );
}

/** V8's default growth factor of the semi-spaces (each growth doubles them). */
const DEFAULT_GROWTH_FACTOR = 2;

if (runsGateway(process.argv.slice(2))) setFlagsFromString('--semi-space-growth-factor=1');

/**
 * `limits.youngGeneration: grow` in the gateway config: gives the growth back (read at the next
 * scavenge), for a gateway that would rather spend memory than scavenge more often.
 */
export function letYoungGenerationGrow(): void {
  setFlagsFromString(`--semi-space-growth-factor=${DEFAULT_GROWTH_FACTOR}`);
}
