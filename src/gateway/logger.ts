// The gateway's JSON log (pino): one line per finished flow at `info`, plus start / stop and
// errors, to standard error or to the file of `log.file` (appended, written asynchronously and
// flushed at shutdown).
import { type Logger, pino } from 'pino';
import type { GatewayConfig } from './config.js';

export function createGatewayLogger(config: GatewayConfig['log']): Logger {
  const destination = pino.destination({ dest: config.file ?? 2, sync: false, mkdir: true, append: true });
  return pino(
    { name: 'pathwarden-gateway', level: config.level, timestamp: pino.stdTimeFunctions.isoTime },
    destination,
  );
}
