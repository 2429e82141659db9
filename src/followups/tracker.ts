import type { Followup, TrackerKind } from './model.js';

/** An issue in the team's tracker, as far as Firebreak cares. */
export interface TrackerIssue {
  /** `owner/repo#12` on GitHub, `OPS-12` on Jira. */
  key: string;
  url: string;
  closed: boolean;
  /** When the issue last changed, by the tracker's clock (orders its state against webhooks). */
  updatedAt?: Date;
}

/** What the issue says: rendered by the area's messages (src/templates/followups.ts). */
export interface IssueText {
  title: string;
  /** Markdown. */
  body: string;
}

/**
 * A tracker follow-ups are exported to. `find` looks for the issue a previous attempt made
 * (by the follow-up's marker) so a retry after a lost reply never creates a second one.
 */
export interface Tracker {
  readonly kind: TrackerKind;
  find(f: Followup): Promise<TrackerIssue | undefined>;
  create(f: Followup, text: IssueText): Promise<TrackerIssue>;
  /** The issue's current state; undefined when it is gone (deleted, moved away). */
  state(key: string): Promise<TrackerIssue | undefined>;
  /** The tracker login or account the chat user maps to, if configured. */
  assigneeOf(userId: string | null): string | undefined;
}

/** A tracker call that failed, worded for the person reading the follow-up list. */
export class TrackerError extends Error {
  constructor(
    message: string,
    /** Worth retrying by itself (network, 5xx, 429); a refusal (401, 403, 404, 422) needs a person. */
    readonly retryable: boolean,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'TrackerError';
  }
}

/** One HTTP call with a timeout; answers the status and the parsed JSON body (undefined when none). */
export async function callJson(
  doFetch: typeof fetch, tracker: string, url: string, init: { method: string; headers: Record<string, string>; body?: unknown; timeoutMs: number },
): Promise<{ status: number; body: unknown }> {
  let res: Response;
  try {
    res = await doFetch(url, {
      method: init.method,
      headers: { ...init.headers, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
      signal: AbortSignal.timeout(init.timeoutMs),
    });
  } catch (e) {
    throw new TrackerError(`${tracker} did not answer (${(e as Error).message}); will retry`, true);
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (res.status >= 500 || res.status === 429) throw new TrackerError(`${tracker} answered ${res.status}; will retry`, true, res.status);
  return { status: res.status, body };
}
