/**
 * A burst of `/incident declare` requests against real Firebreak processes, as Slack sends
 * them (signed, with response_url), and the check that every acknowledged declare became
 * exactly one incident with one channel, one headline and one announcement. Shared by the
 * durability tests and the fault-injection run.
 */
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { sign } from '../../support/app.js';
import type { FakeMessage, FakeSlack } from '../../support/fake-slack.js';

export interface Delivery {
  k: number;
  title: string;
  triggerId: string;
  /** HTTP status, or 0 when the connection failed (the replica was dead or died mid-request). */
  status: number;
  body: string;
}

/** Sends one declare the way Slack does; `retryNum` marks a re-delivery. */
export async function deliverDeclare(
  baseUrl: string, secret: string, slack: FakeSlack, d: { k: number; title: string; triggerId: string; user: string }, retryNum?: number,
): Promise<Delivery> {
  const body = new URLSearchParams({
    command: '/incident', text: `declare P2 ${d.title}`, user_id: d.user, user_name: d.user.toLowerCase(), channel_id: 'C0GENERAL', team_id: 'T0TEST',
    trigger_id: d.triggerId, response_url: slack.responseUrl(d.triggerId), api_app_id: 'A0TEST',
  }).toString();
  const ts = Math.floor(Date.now() / 1000);
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': String(ts), 'x-slack-signature': sign(secret, ts, body) };
  if (retryNum) Object.assign(headers, { 'x-slack-retry-num': String(retryNum), 'x-slack-retry-reason': 'http_error' });
  try {
    const res = await fetch(`${baseUrl}/slack/events`, { method: 'POST', body, headers, signal: AbortSignal.timeout(10_000) });
    return { k: d.k, title: d.title, triggerId: d.triggerId, status: res.status, body: await res.text() };
  } catch {
    return { k: d.k, title: d.title, triggerId: d.triggerId, status: 0, body: '' };
  }
}

export function declareSpecs(n: number, tag = randomBytes(3).toString('hex')) {
  return Array.from({ length: n }, (_, k) => ({ k, title: `Burst ${tag} ${k} down`, triggerId: `trig-${tag}-${k}`, user: `U0USER${k % 5}` }));
}

/** Acknowledged as accepted: 200 with an empty body (a text body tells the person it was not recorded). */
export const acknowledged = (d: Delivery) => d.status === 200 && d.body === '';

const tagged = (id: number, step: string) => (m: FakeMessage) =>
  Number(m.metadata?.event_payload.incident_id) === id && m.metadata?.event_payload.step === step;

export interface DeclareState {
  title: string;
  incidents: number;
  channels: number;
  headlines: number;
  announcements: number;
}

/** What Slack and PostgreSQL show for one declare. */
export async function stateOf(db: pg.Pool, slack: FakeSlack, title: string): Promise<DeclareState> {
  const { rows } = await db.query<{ id: number; channel_id: string | null; channel_name: string | null }>('SELECT id, channel_id, channel_name FROM incidents WHERE title = $1', [title]);
  const i = rows[0];
  if (!i) return { title, incidents: 0, channels: 0, headlines: 0, announcements: 0 };
  const base = i.channel_name?.replace(/-\d+$/, '') ?? '\0';
  return {
    title,
    incidents: rows.length,
    // The incident's name, and any suffixed copy a duplicate create would have made.
    channels: slack.channels.filter((c) => c.name === base || c.name.startsWith(`${base}-`)).length,
    headlines: i.channel_id ? slack.messagesIn(i.channel_id).filter(tagged(i.id, 'headline')).length : 0,
    announcements: slack.messagesIn('incidents').filter(tagged(i.id, 'announce')).length,
  };
}

export const complete = (s: DeclareState) => s.incidents === 1 && s.channels === 1 && s.headlines === 1 && s.announcements === 1;

/** Polls until `cond` holds; throws with `describe()` when the deadline passes. */
export async function waitUntil(what: string, cond: () => Promise<boolean>, timeoutMs: number, describe?: () => Promise<string>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${describe ? `: ${await describe()}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
