import { pino, type Logger, type DestinationStream } from 'pino';
import { logContext } from './ops/request-context.js';
import { ENV_BINDINGS } from './config/env.js';

export type { Logger };

/** A pino redact path for a key, quoting keys that are not plain identifiers. */
const key = (k: string) => (/^[A-Za-z_$][\w$]*$/.test(k) ? `.${k}` : `["${k}"]`);

/**
 * Key names that hold credentials wherever they appear (top level and one level down); pino
 * has no recursive wildcard, so deeper places are listed by path below.
 */
const SECRET_KEYS = [
  'token', 'botToken', 'appToken', 'signingSecret', 'password', 'secret', 'apiToken', 'routingKey',
  'authorization', 'databaseUrl', 'privateKey', 'identity', 'bearerToken', 'basicPassword',
  'signatureSecret', 'webhookSecrets', 'secretAccessKey', 'sessionToken', 'cookie',
];

/**
 * Paths pino blanks out. Secrets are also never put into log objects on purpose; this list
 * is the net under that rule. Every value ENV_BINDINGS marks secret is covered at its config
 * path, so a newly bound secret is redacted (under `config.`) without editing this file.
 */
const REDACT = [
  ...SECRET_KEYS,
  ...SECRET_KEYS.map((k) => `*${key(k)}`),
  'headers.authorization', 'headers.cookie', 'headers["x-slack-signature"]', 'headers["x-pagerduty-signature"]',
  'req.headers.authorization', 'req.headers.cookie',
  ...ENV_BINDINGS.filter((b) => b.secret).flatMap((b) => [`config${b.path.map(key).join('')}`, b.path.map(key).join('').slice(1)]),
];

/**
 * Where log lines go: the given destination (tests), else a terminal gets pino-pretty (pino's
 * own transport: coloured, one line per event, in a worker thread off the event loop) and
 * everything else (files, pipes, log collectors) gets JSON lines.
 */
function destinationFor(opts: { destination?: DestinationStream; pretty?: boolean }): DestinationStream {
  if (opts.destination) return opts.destination;
  if (opts.pretty ?? process.stdout.isTTY === true) {
    return pino.transport({
      target: 'pino-pretty',
      options: { destination: 1, colorize: true, singleLine: true, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname,service' },
    }) as DestinationStream;
  }
  // Buffered, asynchronous stdout: a synchronous write per access line costs the event loop
  // that Slack's acks run on. pino flushes it on exit, and graceful shutdown flushes first.
  return pino.destination({ dest: 1, sync: false });
}

export function createLogger(opts: { level?: string; destination?: DestinationStream; pretty?: boolean } = {}): Logger {
  return pino(
    {
      level: opts.level ?? process.env.LOG_LEVEL ?? 'info',
      base: { service: 'firebreak' },
      redact: { paths: REDACT, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      // requestId (and incidentId/action once known) of the request this line was written for.
      mixin: logContext,
    },
    destinationFor(opts),
  );
}

/** Removes credentials from a connection string before it is shown or logged. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    // libpq also takes the password as a query parameter; it is as secret there.
    if (u.searchParams.has('password')) u.searchParams.set('password', '***');
    return u.toString();
  } catch {
    return '[unparseable url]';
  }
}
