/**
 * Configuration as a change: every configuration Firebreak runs with is a stored version;
 * a new one is validated before anything changes, proposed through the change gate
 * (`config.change`), and once approved (or applied from the CLI / SIGHUP) made the one active
 * version, with a NOTIFY in the same transaction so every replica's watcher switches to it.
 * Rollbacks (by hand, gated; automatic, from part C's watch) go back to the previous version.
 * Every switch is in the hash-chained event log (`config.*`, shown by /audit).
 */
import type pg from 'pg';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { Config } from '../config/schema.js';
import { ConfigError, loadConfigText } from '../config/load.js';
import type { ConfigVersionRef } from '../config/version-ref.js';
import type { ActionExecution, ActionResult, ChangeGate, ChangeRequester, GateOutcome } from '../approvals/gate.js';
import { withTransaction } from '../db/pool.js';
import { appendEvent } from '../events/log.js';
import * as store from './store.js';
import type { StoredVersion, VersionSource, HistoryRow } from './store.js';
import { contentHash, diffEffective, maskedConfig, type DiffLine } from './effective.js';
import { envOnlyChanges } from '../config/env-only.js';
import type { ConfigNotices } from './messages.js';
import { changeTitle, opsNotice } from '../templates/configversions.js';

/** The change gate's policy and action kind for a new version or a rollback by hand. */
export const CONFIG_CHANGE_KIND = 'config.change';
/** Opens the change request for a version recorded by the CLI or the Slack modal (any replica, retried). */
export const PROPOSE_QUEUE = 'config.propose';

type Env = Record<string, string | undefined>;

export interface ChangeParams extends Record<string, unknown> {
  action: 'activate' | 'rollback';
  versionId: number;
  hash: string;
}

export interface VersionMeta {
  author: string;
  source: VersionSource;
  commit?: string | undefined;
}

export type Checked = { ok: true; config: Config; effective: Record<string, unknown>; hash: string } | { ok: false; problems: string[] };

export type Prepared =
  | { status: 'invalid'; problems: string[] }
  | { status: 'env-only'; keys: string[]; message: string }
  | { status: 'unchanged'; version: StoredVersion }
  | { status: 'recorded'; version: StoredVersion; diff: DiffLine[] };

export type Proposed = Exclude<Prepared, { status: 'recorded' }> | { status: 'gated'; version: StoredVersion; gate: GateOutcome; diff: DiffLine[] };

export type Activated = { status: 'switched'; version: StoredVersion; from?: StoredVersion } | { status: 'unchanged'; version: StoredVersion } | { status: 'refused'; message: string };

export type Applied = Exclude<Prepared, { status: 'recorded' }> | Activated;

/** `tampered`: the stored content does not match its hash (changed outside Firebreak). */
export type Verified = { ok: true; config: Config; ref: ConfigVersionRef } | { ok: false; problem: string; tampered: boolean };

export interface ConfigVersionsDeps {
  pool: pg.Pool;
  clock: Clock;
  log: Logger;
  notices: ConfigNotices;
  /** Absent in the CLI, which records versions and leaves the change request to a replica (PROPOSE_QUEUE). */
  gate?: ChangeGate;
  /** The configuration a version's text means in this process: text + environment (+ what the process adds, e.g. an embedded database URL). */
  configFor?: (text: string, label: string) => Config;
  env?: Env;
}

const problemsOf = (e: ConfigError): string[] => e.problems.map((p) => `${p.key} (from ${p.source}): ${p.message}`);

export class ConfigVersions {
  private readonly configFor: (text: string, label: string) => Config;

  constructor(private readonly d: ConfigVersionsDeps) {
    const env = d.env ?? process.env;
    this.configFor = d.configFor ?? ((text, label) => loadConfigText(text, env, { label }));
  }

  private now(): Date {
    return this.d.clock.now();
  }

  /** Validates YAML text exactly as the file is validated at start; nothing is stored. */
  check(text: string, label = 'proposed configuration'): Checked {
    try {
      const config = this.configFor(text, label);
      return { ok: true, config, effective: maskedConfig(config), hash: contentHash(text) };
    } catch (e) {
      if (e instanceof ConfigError) return { ok: false, problems: problemsOf(e) };
      throw e;
    }
  }

  /** What the active version means here now (its text + this environment); undefined when none or it no longer validates. */
  private activeConfig(active: StoredVersion | undefined): Config | undefined {
    const c = this.check(active?.content ?? '', active ? `version #${active.id}` : 'defaults');
    return c.ok ? c.config : undefined;
  }

  /** Every reason a proposal would be refused (invalid, env-only), for the form while it is open; nothing is stored. */
  async problemsWith(text: string): Promise<string[]> {
    const checked = this.check(text);
    if (!checked.ok) return checked.problems;
    const current = this.activeConfig(await store.activeVersion(this.d.pool));
    const envOnly = current ? envOnlyChanges(current, checked.config) : [];
    return envOnly.length ? [`${envOnly.join(', ')} cannot change while Firebreak runs (environment and restart only)`] : [];
  }

  /**
   * Validates, refuses env-only changes (naming them), and records the text as a proposed
   * version (or finds the same content stored before). Nothing is switched.
   */
  async prepare(text: string, meta: VersionMeta): Promise<Prepared> {
    const checked = this.check(text);
    if (!checked.ok) return { status: 'invalid', problems: checked.problems };
    if (meta.commit !== undefined && !/^[0-9a-fA-F]{4,64}$/.test(meta.commit)) return { status: 'invalid', problems: [`commit ${meta.commit}: expected a Git commit id (hex)`] };
    const active = await store.activeVersion(this.d.pool);
    const current = this.activeConfig(active);
    const envOnly = current ? envOnlyChanges(current, checked.config) : [];
    if (envOnly.length) {
      return {
        status: 'env-only', keys: envOnly,
        message: `${envOnly.join(', ')} cannot change while Firebreak runs (set ${envOnly.length === 1 ? 'it' : 'them'} in the environment and restart every replica); remove ${envOnly.length === 1 ? 'it' : 'them'} from the proposed file.`,
      };
    }
    if (active && active.hash === checked.hash) return { status: 'unchanged', version: active };
    const { version } = await store.insertVersion(this.d.pool, {
      content: text, hash: checked.hash, effective: checked.effective, author: meta.author, source: meta.source,
      gitCommit: meta.commit ?? null, createdAt: this.now(),
    });
    const before = active ? (current ? maskedConfig(current) : active.effective) : maskedConfig(this.activeConfig(undefined) ?? checked.config);
    return { status: 'recorded', version, diff: diffEffective(before, checked.effective) };
  }

  /** `config propose` / `/config propose`: prepare, then a change request under `config.change`. */
  async propose(text: string, meta: VersionMeta, requester: ChangeRequester, requestKey?: string): Promise<Proposed> {
    const p = await this.prepare(text, meta);
    if (p.status !== 'recorded') return p;
    const gate = await this.requestApproval(p.version.id, requester, requestKey);
    return { status: 'gated', version: p.version, gate, diff: p.diff };
  }

  /** Opens the change request for a recorded version; its title carries the diff for the approvers. */
  async requestApproval(versionId: number, requester: ChangeRequester, requestKey?: string): Promise<GateOutcome> {
    if (!this.d.gate) throw new Error('requestApproval needs the change gate (a running replica)');
    const v = await store.getVersion(this.d.pool, versionId);
    if (!v) return { status: 'refused', message: `There is no configuration version #${versionId}.` };
    const diff = await this.diffAgainstActive(v);
    const params: ChangeParams = { action: 'activate', versionId: v.id, hash: v.hash };
    const out = await this.d.gate.request(CONFIG_CHANGE_KIND, params, requester, {
      title: changeTitle(`Switch the configuration to version #${v.id} (${v.hash.slice(0, 12)})`, diff),
      category: 'normal', ...(requestKey ? { requestKey } : {}),
    });
    if (out.status !== 'refused' && out.requestId !== null) await store.setChangeId(this.d.pool, v.id, out.requestId);
    else if (out.status === 'refused') this.d.log.warn({ version: v.id, message: out.message }, `the change request for configuration version #${v.id} was refused`);
    return out;
  }

  /** `/config rollback [version]`: back to `versionId` (default: the active version's previous), gated like a change. */
  async rollback(versionId: number | undefined, requester: ChangeRequester): Promise<GateOutcome> {
    if (!this.d.gate) throw new Error('rollback needs the change gate (a running replica)');
    const active = await store.activeVersion(this.d.pool);
    const targetId = versionId ?? active?.previousId ?? undefined;
    if (targetId === undefined) return { status: 'refused', message: active ? `Version #${active.id} has no previous version to roll back to; name one (\`/config history\`).` : 'No configuration version is active yet.' };
    const target = await store.getVersion(this.d.pool, targetId);
    if (!target) return { status: 'refused', message: `There is no configuration version #${targetId}.` };
    if (active?.id === target.id) return { status: 'refused', message: `Version #${target.id} is already the running version.` };
    const verified = this.verify(target);
    if (!verified.ok) return { status: 'refused', message: `Version #${target.id} cannot run: ${verified.problem}` };
    const diff = await this.diffAgainstActive(target);
    const params: ChangeParams = { action: 'rollback', versionId: target.id, hash: target.hash };
    return this.d.gate.request(CONFIG_CHANGE_KIND, params, requester, {
      title: changeTitle(`Roll the configuration back${active ? ` from #${active.id}` : ''} to version #${target.id}`, diff), category: 'normal',
    });
  }

  describe(p: ChangeParams): string {
    return p.action === 'rollback' ? `Roll the configuration back to version #${p.versionId}` : `Switch the configuration to version #${p.versionId}`;
  }

  /** The gate's executor: the approved version becomes the active one (exactly the content approved). */
  async execute(p: ChangeParams, exec: ActionExecution): Promise<ActionResult> {
    // Valid when proposed; the environment may have changed since: a version no replica could run is refused, not switched to.
    const v = await store.getVersion(this.d.pool, Number(p.versionId));
    const verified = v && contentHash(v.content) === v.hash ? this.verify(v) : undefined;
    if (v && verified && !verified.ok) {
      if (v.status === 'proposed') await store.setStatus(this.d.pool, v.id, 'refused', verified.problem.slice(0, 500));
      return { ok: false, summary: `version #${v.id} was not switched to: ${verified.problem}` };
    }
    const out = await this.activate(Number(p.versionId), {
      actor: exec.requester, expectedHash: String(p.hash), changeId: exec.requestId, approvers: exec.approvers,
      type: p.action === 'rollback' ? 'config.rolled_back' : 'config.activated', keepPrevious: p.action === 'rollback',
    });
    if (out.status === 'refused') return { ok: false, summary: out.message };
    if (out.status === 'unchanged') return { ok: true, summary: `version #${out.version.id} was already running` };
    return { ok: true, summary: `configuration version #${out.version.id} is active${out.from ? ` (was #${out.from.id})` : ''}; every replica switches to it` };
  }

  /**
   * Makes a version the active one: checks its content still matches its hash (and the hash
   * approved), supersedes the running one, NOTIFYs every replica and audits, in one transaction.
   */
  async activate(id: number, o: { actor: string; type: string; expectedHash?: string; changeId?: number | null; approvers?: string[]; keepPrevious?: boolean; reason?: string }): Promise<Activated> {
    const now = this.now();
    const out = await withTransaction(this.d.pool, async (c): Promise<Activated & { integrity?: StoredVersion }> => {
      const current = await store.lockActive(c);
      const v = await store.getVersion(c, id);
      if (!v) return { status: 'refused', message: `There is no configuration version #${id}.` };
      if (o.expectedHash && v.hash !== o.expectedHash) return { status: 'refused', message: `Version #${id} is not the content that was approved (its hash changed); nothing was switched.` };
      if (contentHash(v.content) !== v.hash) return { status: 'refused', message: `Version #${id}'s stored content does not match its hash; nothing was switched.`, integrity: v };
      if (current?.id === v.id) return { status: 'unchanged', version: v };
      if (current) await store.setStatus(c, current.id, 'superseded');
      await store.markActive(c, v.id, now, o.keepPrevious ? undefined : current?.id ?? null);
      await store.notifySwitch(c, v.id);
      await appendEvent(c, {
        type: o.type, actor: o.actor, at: now, subject: `config:${v.id}`,
        payload: {
          version: v.id, hash: v.hash, from: current?.id ?? null, source: v.source, commit: v.gitCommit,
          ...(o.changeId ? { changeId: o.changeId } : {}), ...(o.approvers ? { approvers: o.approvers } : {}), ...(o.reason ? { reason: o.reason } : {}),
        },
      });
      return { status: 'switched', version: { ...v, status: 'active' }, ...(current ? { from: current } : {}) };
    });
    if ('integrity' in out && out.integrity) await this.refuseTampered(out.integrity);
    if (out.status === 'refused') return { status: 'refused', message: out.message };
    return out;
  }

  /**
   * `firebreak config apply`, SIGHUP and the first start: the text becomes the active version
   * at once (validated, env-only changes refused), audited with its source.
   */
  async apply(text: string, meta: VersionMeta): Promise<Applied> {
    const p = await this.prepare(text, meta);
    if (p.status !== 'recorded') return p;
    return this.activate(p.version.id, { actor: meta.author, type: 'config.applied' });
  }

  /**
   * Whether a switch from `from` to `to` was a change forward (`to` recorded `from` as the
   * version it replaced), not a rollback: only those are watched, or a rollback whose errors
   * had another cause would roll further back, version after version.
   */
  async forwardSwitch(to: ConfigVersionRef, from: ConfigVersionRef | undefined): Promise<boolean> {
    if (!from) return false;
    const v = await store.getVersion(this.d.pool, to.id);
    return v?.previousId === from.id;
  }

  /**
   * Part C's automatic rollback: `failed` becomes failed, its previous version active again,
   * every replica told (NOTIFY), audited, and the reason posted in the ops channel. A no-op
   * when `failed` is no longer the active version (another replica rolled back first).
   */
  async rollbackAutomatically(failed: ConfigVersionRef, reason: string): Promise<'rolled_back' | 'not_active' | 'no_previous'> {
    const now = this.now();
    const out = await withTransaction(this.d.pool, async (c) => {
      const current = await store.lockActive(c);
      if (!current || current.id !== failed.id || current.hash !== failed.hash) return { r: 'not_active' as const };
      const prev = current.previousId ? await store.getVersion(c, current.previousId) : undefined;
      if (!prev || contentHash(prev.content) !== prev.hash) {
        await appendEvent(c, { type: 'config.rollback_impossible', actor: 'firebreak', at: now, subject: `config:${current.id}`, payload: { version: current.id, reason } });
        return { r: 'no_previous' as const };
      }
      await store.setStatus(c, current.id, 'failed', reason.slice(0, 500));
      await store.markActive(c, prev.id, now, undefined);
      await store.notifySwitch(c, prev.id);
      await appendEvent(c, {
        type: 'config.rolled_back', actor: 'firebreak', at: now, subject: `config:${prev.id}`,
        payload: { version: prev.id, hash: prev.hash, from: current.id, automatic: true, reason },
      });
      return { r: 'rolled_back' as const, prev };
    });
    if (out.r === 'rolled_back') await this.d.notices.ops(opsNotice.rolledBack(failed, out.prev, reason));
    if (out.r === 'no_previous') await this.d.notices.ops(opsNotice.noPrevious(failed, reason));
    return out.r;
  }

  /**
   * What a replica runs for a stored version: refused (status unchanged, logged, audited, ops
   * told) when its content does not match its hash; else its text + this environment.
   */
  verify(v: StoredVersion): Verified {
    if (contentHash(v.content) !== v.hash) return { ok: false, problem: 'its stored content does not match its hash (changed outside Firebreak)', tampered: true };
    const checked = this.check(v.content, `version #${v.id}`);
    if (!checked.ok) return { ok: false, problem: `it does not validate here: ${checked.problems.join('; ')}`, tampered: false };
    return { ok: true, config: checked.config, ref: { id: v.id, hash: v.hash } };
  }

  /** Tells everyone a stored version was tampered with: log, audit, ops channel. Its status stays. */
  async refuseTampered(v: StoredVersion): Promise<void> {
    const why = 'its stored content does not match its hash';
    this.d.log.error({ version: v.id, hash: v.hash }, `refused configuration version #${v.id}: ${why}`);
    await appendEvent(this.d.pool, { type: 'config.integrity_refused', actor: 'firebreak', at: this.now(), subject: `config:${v.id}`, payload: { version: v.id, hash: v.hash } });
    await this.d.notices.ops(opsNotice.integrityRefused(v, why));
  }

  async active(): Promise<StoredVersion | undefined> {
    return store.activeVersion(this.d.pool);
  }

  async get(id: number): Promise<StoredVersion | undefined> {
    return store.getVersion(this.d.pool, id);
  }

  async history(limit = 20): Promise<HistoryRow[]> {
    return store.history(this.d.pool, limit);
  }

  /** A version (default the active one). */
  async show(id?: number): Promise<StoredVersion | undefined> {
    return id === undefined ? this.active() : this.get(id);
  }

  /** `config diff [file]`: the text's effective configuration against the running version's, both with this environment. */
  async diff(text: string): Promise<{ ok: true; against?: StoredVersion; lines: DiffLine[] } | { ok: false; problems: string[] }> {
    const checked = this.check(text);
    if (!checked.ok) return checked;
    const active = await store.activeVersion(this.d.pool);
    const current = this.activeConfig(active);
    const before = current ? maskedConfig(current) : active?.effective ?? {};
    return { ok: true, ...(active ? { against: active } : {}), lines: diffEffective(before, checked.effective) };
  }

  private async diffAgainstActive(v: StoredVersion): Promise<DiffLine[]> {
    const active = await store.activeVersion(this.d.pool);
    const a = this.activeConfig(active);
    const b = this.check(v.content);
    return diffEffective(a ? maskedConfig(a) : active?.effective ?? {}, b.ok ? b.effective : v.effective);
  }

  /**
   * The first start on a database: the file (or empty text) becomes the first active version.
   * Afterwards the stored active version wins; a file that differs is only a warning (apply
   * or propose it to change the configuration).
   */
  async ensureActive(fileText: string, author = 'firebreak'): Promise<{ version: StoredVersion; fileDiffers: boolean }> {
    const hash = contentHash(fileText);
    let active = await store.activeVersion(this.d.pool);
    if (!active) {
      const checked = this.check(fileText, 'FIREBREAK_CONFIG');
      if (!checked.ok) throw new ConfigError(checked.problems.map((p) => ({ key: '(file)', source: 'FIREBREAK_CONFIG', message: p })));
      const { version } = await store.insertVersion(this.d.pool, { content: fileText, hash, effective: checked.effective, author, source: 'start', gitCommit: (this.d.env ?? process.env).FIREBREAK_CONFIG_COMMIT ?? null, createdAt: this.now() });
      try {
        await this.activate(version.id, { actor: author, type: 'config.activated' });
      } catch (err) {
        // Another replica starting at the same moment activated its own first: theirs stands.
        this.d.log.info({ err }, 'another replica recorded the first configuration version');
      }
      active = (await store.activeVersion(this.d.pool))!;
    }
    return { version: active, fileDiffers: active.hash !== hash };
  }
}
