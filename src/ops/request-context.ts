import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * What every log line written while handling one request should carry. AsyncLocalStorage
 * follows the request into everything it starts, including background work after Slack's ack,
 * so a slash command's follow-up logs share the request id of the POST that carried it.
 */
export interface RequestContext {
  requestId: string;
  /** Set by whoever learns it (e.g. the interaction router): the incident or action at hand. */
  incidentId?: number;
  action?: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

export function withRequestContext<T>(ctx: RequestContext, fn: () => T): T {
  return storage.run(ctx, fn);
}

/** Adds fields to the current request's context (no-op outside a request). */
export function annotateRequest(fields: Partial<Omit<RequestContext, 'requestId'>>): void {
  const cur = storage.getStore();
  if (cur) Object.assign(cur, fields);
}

/** pino `mixin`: the current request's fields, merged into each log line (the line's own fields win). */
export function logContext(): Partial<RequestContext> {
  const cur = storage.getStore();
  return cur ? { ...cur } : {};
}
