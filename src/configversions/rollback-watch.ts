import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { ConfigVersionRef } from '../config/version-ref.js';
import { SIGNAL_NAMES, type ErrorSignals, type SignalName, type SignalSample } from './error-signals.js';
import type { RollbackConfig } from './rollback-config.js';

/** Who rolls a failed version back everywhere (ConfigVersions in src/configversions/service.ts). */
export interface RollbackTarget {
  /** Marks `failed` failed and activates its previous version; answers what it did. */
  rollbackAutomatically(failed: ConfigVersionRef, reason: string): Promise<string>;
}

export interface RollbackWatchDeps {
  clock: Clock;
  log: Logger;
  signals: ErrorSignals;
  target: RollbackTarget;
  config: RollbackConfig;
}

/** Errors since the switch: per signal, and per detail (error code, queue, route). */
type Delta = { totals: Record<SignalName, number>; detail: Record<SignalName, Record<string, number>>; sum: number };

interface Window {
  to: ConfigVersionRef;
  from: ConfigVersionRef;
  startedAt: number;
  baseline: Promise<SignalSample>;
  timer: NodeJS.Timeout;
  /** A tick is sampling or rolling back: the next one waits its turn (skips). */
  busy: boolean;
  rollbackAttempts: number;
}

/** Attempts at the rollback call before the watch gives up on it (each tick retries a throw). */
const MAX_ROLLBACK_ATTEMPTS = 3;

/**
 * The watchdog after a configuration switch. For `windowSeconds` after this replica switched
 * to a version it samples its own error signals every `checkEverySeconds`; when the errors
 * since the switch exceed `maxErrors`, it asks the target to roll the version back (once),
 * with a reason naming what rose. A window that passes quietly marks the version healthy
 * (in the log). Time comes from the one clock; the ticks are timers. A new switch replaces
 * the window: the errors are then the new version's to answer for.
 */
export class RollbackWatch {
  private window: Window | undefined;

  constructor(private deps: RollbackWatchDeps) {}

  /** The version whose window is open, if any. */
  get watching(): ConfigVersionRef | undefined {
    return this.window?.to;
  }

  onSwitched(to: ConfigVersionRef, from: ConfigVersionRef | undefined): void {
    const { config, log } = this.deps;
    this.end();
    if (!config.enabled) {
      log.info({ action: 'config.rollback_watch', version: to.id, decision: 'off' }, `switched to configuration version ${to.id}; automatic rollback is off (configChanges.rollback.enabled)`);
      return;
    }
    if (!from) {
      log.info({ action: 'config.rollback_watch', version: to.id, decision: 'no_previous' }, `switched to configuration version ${to.id}; nothing to roll back to, so its errors are not watched`);
      return;
    }
    const timer = setInterval(() => void this.tick(), config.checkEverySeconds * 1000);
    timer.unref();
    const baseline = this.deps.signals.sample();
    baseline.catch(() => {}); // a failed baseline surfaces (logged) at each tick that awaits it
    this.window = { to, from, startedAt: this.deps.clock.now().getTime(), baseline, timer, busy: false, rollbackAttempts: 0 };
    log.info(
      { action: 'config.rollback_watch', version: to.id, previous: from.id, decision: 'watching', windowSeconds: config.windowSeconds, maxErrors: config.maxErrors },
      `watching error signals for ${config.windowSeconds} s after switching to configuration version ${to.id}: more than ${config.maxErrors} rolls back to version ${from.id}`,
    );
  }

  stop(): void {
    this.end();
  }

  private end(): void {
    if (this.window) clearInterval(this.window.timer);
    this.window = undefined;
  }

  private async tick(): Promise<void> {
    const w = this.window;
    if (!w || w.busy) return;
    w.busy = true;
    try {
      await this.check(w);
    } catch (e) {
      this.deps.log.error({ err: e, action: 'config.rollback_watch', version: w.to.id }, 'checking error signals after a configuration switch failed; trying again at the next tick');
    } finally {
      w.busy = false;
    }
  }

  private async check(w: Window): Promise<void> {
    const { clock, log, signals, target, config } = this.deps;
    const elapsedMs = clock.now().getTime() - w.startedAt;
    const delta = subtract(await signals.sample(), await w.baseline);
    if (this.window !== w) return; // replaced or stopped while sampling
    if (delta.sum > config.maxErrors) {
      const reason = `${describeDelta(delta)} in ${Math.max(0, Math.round(elapsedMs / 1000))} s after switching to version ${w.to.id}`;
      w.rollbackAttempts++;
      log.warn({ action: 'config.rollback_watch', version: w.to.id, previous: w.from.id, decision: 'roll_back', errors: delta.totals, maxErrors: config.maxErrors, reason }, `rolling configuration version ${w.to.id} back: ${reason}`);
      let outcome: string;
      try {
        outcome = await target.rollbackAutomatically(w.to, reason);
      } catch (e) {
        if (w.rollbackAttempts < MAX_ROLLBACK_ATTEMPTS) {
          log.error({ err: e, action: 'config.rollback_watch', version: w.to.id, attempt: w.rollbackAttempts }, `rolling configuration version ${w.to.id} back failed; trying again at the next tick`);
          return;
        }
        log.error({ err: e, action: 'config.rollback_watch', version: w.to.id, attempt: w.rollbackAttempts }, `rolling configuration version ${w.to.id} back failed ${w.rollbackAttempts} times; giving up: roll back by hand with /config rollback`);
        if (this.window === w) this.end();
        return;
      }
      if (this.window === w) this.end();
      log.warn({ action: 'config.rollback_watch', version: w.to.id, decision: 'rolled_back', outcome }, `automatic rollback of configuration version ${w.to.id}: ${outcome}`);
      return;
    }
    if (elapsedMs >= config.windowSeconds * 1000) {
      this.end();
      log.info(
        { action: 'config.rollback_watch', version: w.to.id, decision: 'healthy', errors: delta.totals, maxErrors: config.maxErrors },
        `configuration version ${w.to.id} considered healthy: ${delta.sum} error${delta.sum === 1 ? '' : 's'} in the ${config.windowSeconds} s after the switch (more than ${config.maxErrors} would have rolled it back)`,
      );
    }
  }
}

function subtract(now: SignalSample, base: SignalSample): Delta {
  const totals = {} as Record<SignalName, number>;
  const detail = {} as Record<SignalName, Record<string, number>>;
  let sum = 0;
  for (const s of SIGNAL_NAMES) {
    totals[s] = Math.max(0, now.totals[s] - base.totals[s]);
    sum += totals[s];
    detail[s] = {};
    for (const [k, v] of Object.entries(now.detail[s])) {
      const d = v - (base.detail[s][k] ?? 0);
      if (d > 0) detail[s][k] = d;
    }
  }
  return { totals, detail, sum };
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/** `(channel_not_found)` for one kind, `(channel_not_found ×9, not_in_channel ×3)` for several (top three). */
function kinds(by: Record<string, number>): string {
  const sorted = Object.entries(by).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  if (sorted.length === 0) return '';
  if (sorted.length === 1) return ` (${sorted[0]![0]})`;
  const shown = sorted.slice(0, 3).map(([k, n]) => `${k} ×${n}`);
  return ` (${shown.join(', ')}${sorted.length > 3 ? ', ...' : ''})`;
}

/** "12 failed Slack calls (channel_not_found) and 3 receiver 5xx (/webhooks/alertmanager)". */
export function describeDelta(d: Pick<Delta, 'totals' | 'detail'>): string {
  const parts: string[] = [];
  if (d.totals.slack) parts.push(plural(d.totals.slack, 'failed Slack call', 'failed Slack calls') + kinds(d.detail.slack));
  if (d.totals.jobs) parts.push(plural(d.totals.jobs, 'failed job attempt', 'failed job attempts') + kinds(d.detail.jobs));
  if (d.totals.http5xx) parts.push(`${d.totals.http5xx} receiver 5xx` + kinds(d.detail.http5xx));
  if (d.totals.readiness) parts.push(plural(d.totals.readiness, 'failed readiness probe', 'failed readiness probes'));
  if (parts.length <= 1) return parts[0] ?? 'no errors';
  return `${parts.slice(0, -1).join(', ')} and ${parts.at(-1)}`;
}
