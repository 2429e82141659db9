/**
 * Silences at the source, as use cases: create (from the Silence modal or `/alerts silence`),
 * expire, list, and read back what was made elsewhere. Each reads top to bottom: check, record
 * the intent, ask Alertmanager, record the answer, refresh the group messages it touches.
 * Surface-neutral: no Slack, no HTTP (the Alertmanager client is passed in).
 */
import type pg from 'pg';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { Matcher } from '../alerts/matchers.js';
import type { AlertGroup, AlertSource, StoredAlert } from '../alerts/model.js';
import type { GroupControls } from '../alerts/service.js';
import type { GroupControlStatus, SourceSilenceBadge } from '../templates/alerts.js';
import { AlertmanagerError, type ApiSilence, type SilenceApi } from './alertmanager-client.js';
import { apiMatcherText, compileApiMatchers, inForce, silenceCovers, startNow, toApi, type Silence } from './model.js';
import * as store from './store.js';
import { coveringWindow } from '../maintenance/service.js';

/** What the silences area needs from the alerts area. */
export interface AlertGroups {
  group(groupId: number): Promise<AlertGroup | undefined>;
  groupAlerts(groupId: number): Promise<StoredAlert[]>;
  shownGroups(): Promise<{ groupId: number; firing: StoredAlert[] }[]>;
  refreshGroups(groupIds: number[]): Promise<void>;
  /** Firebreak's own mute (no reminders, shown on the message). */
  silence(groupId: number, user: string, ms: number): Promise<AlertGroup | undefined>;
  unsilence(groupId: number, user: string): Promise<AlertGroup | undefined>;
}

export interface SilenceDeps {
  pool: pg.Pool;
  clock: Clock;
  log: Logger;
  alertmanagers: SilenceApi[];
  /** Alert source -> name of the Alertmanager that owns its silences. */
  owners: Partial<Record<AlertSource, string>>;
  alerts: AlertGroups;
  /** The name Alertmanager records as `createdBy` for a chat user. */
  nameOf(userId: string): Promise<string>;
  /** Whether this chat user may silence, unsilence and run maintenance. */
  mayControl(userId: string): Promise<boolean>;
}

export interface SilenceRequest {
  /** Idempotency key of the person's request: a re-run never makes a second silence. */
  requestKey: string;
  actor: string;
  matchers: Matcher[];
  durationMs: number;
  comment: string;
  /** Silence a group's alerts: its source decides where (Alertmanager or Firebreak's mute). */
  groupId?: number;
  /** For commands: which Alertmanager (by name); default the first configured. */
  alertmanager?: string;
}

export type SilenceOutcome =
  | { status: 'silenced'; alertmanager: string; where: string; id: string; endsAt: Date; matchers: string[]; groupId: number | null }
  | { status: 'muted-locally'; groupId: number; endsAt: Date; sources: string[] }
  | { status: 'refused'; message: string };

export type ExpireOutcome =
  | { status: 'expired'; alertmanager: string; where: string; id: string; silence: Silence | undefined }
  | { status: 'refused'; message: string };

const NOT_ALLOWED = 'You are not allowed to silence alerts or run maintenance here (alerts.silences.allowedUsers / allowedGroups).';

export class SilenceService {
  private byName: Map<string, SilenceApi>;

  constructor(private deps: SilenceDeps) {
    this.byName = new Map(deps.alertmanagers.map((a) => [a.name, a]));
  }

  /** "Alertmanager main" / "Grafana grafana": where a named target's silences live, for people. */
  whereOf(name: string): string {
    return this.byName.get(name)?.where ?? `Alertmanager ${name}`;
  }

  hasAlertmanagers(): boolean {
    return this.byName.size > 0;
  }

  private ownerOf(alerts: StoredAlert[]): { api: SilenceApi | undefined; localOnly: string[] } {
    const o = ownerOf(this.deps.owners, alerts);
    return { api: o.name ? this.byName.get(o.name) : undefined, localOnly: o.localOnly };
  }

  async create(req: SilenceRequest): Promise<SilenceOutcome> {
    const { clock, alerts } = this.deps;
    if (!(await this.deps.mayControl(req.actor))) return { status: 'refused', message: NOT_ALLOWED };
    let api: SilenceApi | undefined;
    let group: AlertGroup | undefined;
    if (req.groupId !== undefined) {
      group = await alerts.group(req.groupId);
      if (!group) return { status: 'refused', message: `Alert group #${req.groupId} no longer exists; it may have been cleaned up.` };
      const all = await alerts.groupAlerts(group.id);
      const owner = this.ownerOf(all.filter((a) => a.status === 'firing').length ? all.filter((a) => a.status === 'firing') : all);
      if (!owner.api) {
        // Generic webhooks and SNS have no silences: Firebreak's own mute is all there is.
        const g = await alerts.silence(group.id, req.actor, req.durationMs);
        return { status: 'muted-locally', groupId: group.id, endsAt: g!.silencedUntil!, sources: owner.localOnly };
      }
      api = owner.api;
    } else {
      api = req.alertmanager ? this.byName.get(req.alertmanager) : this.deps.alertmanagers[0];
      if (!api) {
        return {
          status: 'refused',
          message: this.byName.size
            ? `No Alertmanager is called "${req.alertmanager}"; configured: ${[...this.byName.keys()].join(', ')}.`
            : 'No Alertmanager is configured (alerts.alertmanagers), so there is nowhere to create a silence.',
        };
      }
    }

    const now = clock.now();
    const createdBy = await this.deps.nameOf(req.actor);
    const intent = await store.recordIntent(this.deps.pool, {
      requestKey: req.requestKey, alertmanager: api.name, matchers: toApi(req.matchers), startsAt: startNow(now),
      endsAt: new Date(now.getTime() + req.durationMs), createdBy, comment: req.comment, slackUser: req.actor, groupId: group?.id ?? null,
    }, now);
    let id = intent.creating ? undefined : intent.id;
    if (intent.creating) {
      // An earlier run of this request may have reached Alertmanager before dying: adopt its silence.
      id = (await this.findMade(api, intent))?.id;
      if (!id) {
        try {
          id = await api.create({ matchers: intent.matchers, startsAt: intent.startsAt, endsAt: intent.endsAt, createdBy: intent.createdBy, comment: intent.comment });
        } catch (e) {
          if (!(e instanceof AlertmanagerError)) throw e;
          await store.dropIntent(this.deps.pool, intent.rowId);
          return { status: 'refused', message: e.kind === 'rejected' ? `${api.where} refused the silence: ${e.message}` : `${e.message}. Nothing was silenced; try again when it is back.` };
        }
      }
      await store.confirmIntent(this.deps.pool, intent.rowId, id, 'active', now);
    }
    const endsAt = intent.endsAt;
    // Firebreak's own mute goes with it, so reminders stop for the group silenced from it.
    if (group) await alerts.silence(group.id, req.actor, Math.max(0, endsAt.getTime() - clock.now().getTime()));
    await this.refreshMatching([{ matchers: intent.matchers }], group ? [group.id] : []);
    return { status: 'silenced', alertmanager: api.name, where: api.where, id: id!, endsAt, matchers: intent.matchers.map(apiMatcherText), groupId: group?.id ?? null };
  }

  /** The silence an interrupted earlier attempt created, if Alertmanager has it. */
  private async findMade(api: SilenceApi, intent: store.SilenceRow): Promise<ApiSilence | undefined> {
    let list: ApiSilence[];
    try {
      list = await api.list();
    } catch {
      return undefined;
    }
    const key = JSON.stringify(intent.matchers);
    return list.find((s) => s.state !== 'expired' && s.createdBy === intent.createdBy && s.comment === intent.comment && s.endsAt.getTime() === intent.endsAt.getTime() && JSON.stringify(s.matchers) === key);
  }

  async expire(actor: string, ref: string): Promise<ExpireOutcome> {
    if (!(await this.deps.mayControl(actor))) return { status: 'refused', message: NOT_ALLOWED };
    const [amName, id] = ref.includes('/') ? (ref.split('/', 2) as [string, string]) : [undefined, ref];
    if (!id || !/^[A-Za-z0-9-]{1,64}$/.test(id)) return { status: 'refused', message: `\`${ref}\` is not a silence id; \`/alerts silences\` lists them.` };
    if (this.byName.size === 0) return { status: 'refused', message: 'No Alertmanager is configured (alerts.alertmanagers).' };
    const known = (await store.findSilence(this.deps.pool, id)).find((s) => !amName || s.alertmanager === amName);
    const candidates = known ? [this.byName.get(known.alertmanager)].filter((a): a is SilenceApi => !!a) : amName ? [this.byName.get(amName)].filter((a): a is SilenceApi => !!a) : this.deps.alertmanagers;
    const problems: string[] = [];
    for (const api of candidates) {
      try {
        await api.expire(id);
      } catch (e) {
        if (!(e instanceof AlertmanagerError)) throw e;
        if (e.kind === 'not_found') continue;
        problems.push(e.message);
        continue;
      }
      const now = this.deps.clock.now();
      const row = await store.markExpired(this.deps.pool, api.name, id, now);
      if (row?.groupId) await this.deps.alerts.unsilence(row.groupId, actor);
      if (row) await this.refreshMatching([row], []);
      return { status: 'expired', alertmanager: api.name, where: api.where, id, silence: row };
    }
    if (problems.length) return { status: 'refused', message: `${problems.join('; ')}. The silence was not expired; try again when Alertmanager is back.` };
    return { status: 'refused', message: `There is no silence \`${id}\` in ${candidates.map((a) => a.name).join(', ')}; \`/alerts silences\` lists them.` };
  }

  /**
   * Reads every Alertmanager's silences into the mirror and refreshes the group messages whose
   * silences changed. An unreachable Alertmanager is reported, not fatal for the others.
   */
  async sync(): Promise<{ unreachable: string[] }> {
    const unreachable: string[] = [];
    const changed: Silence[] = [];
    for (const api of this.deps.alertmanagers) {
      let list: ApiSilence[];
      try {
        list = await api.list();
      } catch (e) {
        if (!(e instanceof AlertmanagerError)) throw e;
        this.deps.log.warn({ alertmanager: api.name, err: e.message }, 'could not read silences');
        unreachable.push(e.message);
        continue;
      }
      const rows = await store.mirror(this.deps.pool, api.name, list, this.deps.clock.now());
      // A silence made from a group's message and expired elsewhere (the UI, amtool) ends the group's mute too.
      for (const r of rows) if (r.state === 'expired' && r.groupId) await this.deps.alerts.unsilence(r.groupId, `alertmanager:${api.name}`);
      changed.push(...rows);
    }
    if (changed.length) await this.refreshMatching(changed, []);
    return { unreachable };
  }

  /** Live silences (active first, then pending), optionally filtered by text. */
  async list(filter?: string): Promise<{ silences: Silence[]; unreachable: string[] }> {
    const { unreachable } = await this.sync();
    const now = this.deps.clock.now();
    const f = filter?.trim().toLowerCase();
    const all = (await store.liveSilences(this.deps.pool, now)).filter(
      (s) => !f || [s.id, s.createdBy, s.comment, s.alertmanager, ...s.matchers.map(apiMatcherText)].some((x) => x.toLowerCase().includes(f)),
    );
    all.sort((a, b) => Number(inForce(b, now)) - Number(inForce(a, now)));
    return { silences: all, unreachable };
  }

  private async refreshMatching(silences: Pick<Silence, 'matchers'>[], alsoGroups: number[]): Promise<void> {
    const shown = await this.deps.alerts.shownGroups();
    const hit = shown.filter((g) => g.firing.some((a) => silences.some((s) => silenceCovers(s, a.labels)))).map((g) => g.groupId);
    await this.deps.alerts.refreshGroups([...hit, ...alsoGroups]);
  }
}

/** The Alertmanager owning these alerts' silences (the first owned source), and the sources none owns. */
export function ownerOf(owners: Partial<Record<AlertSource, string>>, alerts: StoredAlert[]): { name: string | undefined; localOnly: string[] } {
  const sources = [...new Set(alerts.map((a) => a.source))];
  const owned = sources.map((s) => owners[s]).filter((n): n is string => !!n);
  return { name: owned[0], localOnly: sources.filter((s) => !owners[s]) };
}

/**
 * How a group's message shows silences at the source, read from the mirror (never from
 * Alertmanager while rendering). Given to the alerts area at construction.
 */
export class SilenceStatus implements GroupControls {
  constructor(
    private pool: pg.Pool,
    private owners: Partial<Record<AlertSource, string>>,
    /** Target name -> "Alertmanager main" / "Grafana grafana". */
    private where: Record<string, string> = {},
  ) {}

  async status(group: AlertGroup, firing: StoredAlert[], now: Date): Promise<GroupControlStatus> {
    const { name, localOnly } = ownerOf(this.owners, firing);
    const w = await coveringWindow(this.pool, firing, now);
    const maintenance = w ? { id: w.id, reason: w.reason, endsAt: w.endsAt, by: w.createdBy } : undefined;
    if (!name) return { owner: null, localOnlySources: localOnly, silences: [], allFiringSilenced: false, maintenance };
    const owned = firing.filter((a) => this.owners[a.source] === name);
    const live = (await store.liveSilences(this.pool, now)).filter((s) => s.alertmanager === name && inForce(s, now) && compileApiMatchers(s.matchers));
    const badges: SourceSilenceBadge[] = [];
    const covered = new Set<number>();
    for (const s of live) {
      const hits = owned.filter((a) => silenceCovers(s, a.labels));
      if (!hits.length) continue;
      hits.forEach((a) => covered.add(a.id));
      badges.push({ alertmanager: s.alertmanager, where: this.where[s.alertmanager] ?? `Alertmanager ${s.alertmanager}`, id: s.id, createdBy: s.createdBy, slackUser: s.slackUser, endsAt: s.endsAt, covers: hits.length });
    }
    // Firebreak's own silence of this group first: its Expire button is the one people expect.
    badges.sort((a, b) => Number(live.find((s) => s.id === b.id)?.groupId === group.id) - Number(live.find((s) => s.id === a.id)?.groupId === group.id));
    return { owner: name, localOnlySources: localOnly, silences: badges, allFiringSilenced: owned.length > 0 && covered.size === owned.length && localOnly.length === 0, maintenance };
  }
}
