import type { Logger } from '../log.js';
import type { Incident } from '../incidents/model.js';
import type { Severity } from '../incidents/config.js';

/**
 * In-process domain events: how one area reacts to another without importing its internals
 * (paging reacts to declares, alerts to resolves). Listeners run after the change is
 * committed; a failing listener is logged and does not undo or block the change.
 */
export interface HookPayloads {
  'incident.declared': { incident: Incident; actor: string };
  'incident.severity_changed': { incident: Incident; from: Severity; to: Severity; actor: string };
  'incident.status_changed': { incident: Incident; from: string; to: string; actor: string };
  'incident.resolved': { incident: Incident; actor: string };
  'incident.reopened': { incident: Incident; actor: string };
  /** A timeline note was added (follow-ups read `action:` notes; again on a re-run, so listeners must be idempotent). */
  'incident.note_added': { incident: Incident; actor: string; text: string };
  /**
   * The incident's channel exists (its setup ran, on whichever replica; again on each retry
   * and repair, so listeners must be idempotent).
   */
  'incident.war_room_ready': { incident: Incident; actor: string };
}

type Listener<K extends keyof HookPayloads> = (p: HookPayloads[K]) => Promise<void>;

export class Hooks {
  private listeners: { [K in keyof HookPayloads]?: Listener<K>[] } = {};
  constructor(private log: Logger) {}

  on<K extends keyof HookPayloads>(name: K, fn: Listener<K>): void {
    (this.listeners[name] ??= [] as never[]).push(fn as never);
  }

  async emit<K extends keyof HookPayloads>(name: K, payload: HookPayloads[K]): Promise<void> {
    const fns = (this.listeners[name] ?? []) as Listener<K>[];
    await Promise.all(
      fns.map((fn) =>
        fn(payload).catch((err: unknown) => this.log.error({ err, hook: name }, 'hook listener failed')),
      ),
    );
  }
}
