#!/usr/bin/env node
// The `pathwarden` executable: wires the process streams to runCli and sets the exit code.
// First: sets V8's young-generation growth for a gateway process before other modules allocate.
import './young-generation.js';
import { runCli } from './program.js';

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
    process.stderr.write(
      `pathwarden: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 70;
  },
);
