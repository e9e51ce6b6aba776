// The gateway's JSON log (pino): one line per finished flow at `info`, plus start / stop and
// errors, to standard error or to the file of `log.file` (appended). Lines are collected and written
// in blocks of at least LOG_BLOCK_BYTES, and at least every LOG_FLUSH_MS: one write per line cost a
// write request per proxied request (a sixth of the gateway's CPU in a profile, docs/performance.md).
// pino writes what is still buffered when the process exits, and close() flushes at shutdown.
import { type Logger, pino } from 'pino';
import type { GatewayConfig } from './config.js';

/** Buffered log bytes that start a write (about 40 flow lines). */
export const LOG_BLOCK_BYTES = 32 * 1024;
/** Longest a line waits in the buffer. */
export const LOG_FLUSH_MS = 250;

export function createGatewayLogger(config: GatewayConfig['log']): Logger {
  const destination = pino.destination({
    dest: config.file ?? 2,
    sync: false,
    mkdir: true,
    append: true,
    minLength: LOG_BLOCK_BYTES,
    maxWrite: 1024 * 1024,
    periodicFlush: LOG_FLUSH_MS,
  });
  return pino(
    { name: 'pathwarden-gateway', level: config.level, timestamp: pino.stdTimeFunctions.isoTime },
    destination,
  );
}
