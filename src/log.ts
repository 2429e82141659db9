import { pino, type Logger, type DestinationStream } from 'pino';
import { logContext } from './ops/request-context.js';

export type { Logger };

/**
 * Paths pino blanks out wherever they appear. Secrets are also never put into log
 * objects on purpose; this list is the net under that rule.
 */
const REDACT = [
  'token', 'botToken', 'appToken', 'signingSecret', 'password', 'secret', 'apiToken', 'routingKey',
  'authorization', 'databaseUrl', 'privateKey', 'identity',
  '*.token', '*.botToken', '*.appToken', '*.signingSecret', '*.password', '*.secret', '*.apiToken',
  '*.routingKey', '*.authorization', '*.databaseUrl', '*.privateKey', '*.identity',
  'headers.authorization', 'headers["x-slack-signature"]', 'req.headers.authorization',
  'config.slack', 'config.databaseUrl', 'config.paging.routingKey', 'config.paging.apiToken',
];

export function createLogger(opts: { level?: string; destination?: DestinationStream } = {}): Logger {
  return pino(
    {
      level: opts.level ?? process.env.LOG_LEVEL ?? 'info',
      base: { service: 'firebreak' },
      redact: { paths: REDACT, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      // requestId (and incidentId/action once known) of the request this line was written for.
      mixin: logContext,
    },
    opts.destination,
  );
}

/** Removes credentials from a connection string before it is shown or logged. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '[unparseable url]';
  }
}
