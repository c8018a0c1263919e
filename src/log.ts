// The one logger. Library code takes child loggers from it; nothing else writes to the console.
import { pino, type Logger } from 'pino';

const SECRET_PATHS = ['token', 'password', 'private_key', 'webhook_secret', '*.token', '*.password', '*.private_key', '*.webhook_secret'];

function defaultLevel(): string {
  if (process.env.PATCHGATE_LOG_LEVEL) return process.env.PATCHGATE_LOG_LEVEL;
  if (process.env.VITEST) return 'silent';
  return 'info';
}

/** Logs go to stderr so that stdout stays clean for JSON output. */
export const logger: Logger = pino(
  { name: 'patchgate', level: defaultLevel(), redact: { paths: SECRET_PATHS, censor: '[secret]' } },
  pino.destination(2),
);

export type { Logger };
