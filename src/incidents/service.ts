import type { AppContext } from '../module.js';
import type { Severity } from './config.js';
import type { Incident } from './model.js';

export interface DeclareInput {
  title: string;
  severity: Severity;
  summary?: string;
  service?: string;
  /** Slack user id of the declarer, or `firebreak` / `alert:<source>` for automation. */
  actor: string;
  /** Idempotency: the same key never declares twice (Slack retry, alert group). */
  requestKey?: string;
}

export type DeclareOutcome =
  | { status: 'declared'; incident: Incident }
  | { status: 'duplicate'; incident: Incident };

/** Incident use cases. Surface-neutral: talks to people only through ctx.chat. */
export class IncidentService {
  constructor(readonly ctx: AppContext) {}

  async declare(_input: DeclareInput): Promise<DeclareOutcome> {
    throw new Error('not yet');
  }

  async get(_id: number): Promise<Incident | undefined> {
    throw new Error('not yet');
  }
}
