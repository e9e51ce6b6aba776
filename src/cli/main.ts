#!/usr/bin/env node
// The `pathwarden` executable: wires the process streams to runCli and sets the exit code.
// First: sets V8's young-generation growth for a gateway process before other modules allocate.
// The build's bundle keeps it first: its own chunk, the first that main.js imports (scripts/bundle-cli.ts).
import './young-generation.js';
import { runCli } from './program.js';
import { runsGateway } from './young-generation.js';

/** 128 + SIGPIPE: what a C tool reports when its reader went away (`pathwarden catalog list | head -1`). */
const CLOSED_PIPE_EXIT = 141;

const isClosedPipe = (error: unknown) => (error as NodeJS.ErrnoException | null)?.code === 'EPIPE';

// Node ignores SIGPIPE, so a write into a closed pipe fails with EPIPE instead: nothing more that this
// process writes can be read, so it stops quietly rather than printing a stack trace.
// Not a running gateway: it must drain and flush its store on the way out, and it does not write
// to stdout once it serves (its log goes to stderr or a file).
if (!runsGateway(process.argv.slice(2))) {
  process.stdout.on('error', (error) => {
    if (!isClosedPipe(error)) throw error;
    process.exit(CLOSED_PIPE_EXIT);
  });
}

const isTTY = Boolean(process.stdout.isTTY);
runCli(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  isTTY,
}).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (isClosedPipe(error) && !runsGateway(process.argv.slice(2))) process.exit(CLOSED_PIPE_EXIT);
    process.stderr.write(
      `pathwarden: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 70;
  },
);
