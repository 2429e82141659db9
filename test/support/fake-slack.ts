/**
 * A local HTTP server that answers Slack's Web API the way Slack does (form or JSON bodies,
 * `{ok:false, error}` failures, 429 with Retry-After), so the real @slack/web-api code runs
 * in tests. It records every call and can be told to fail a method.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { messageProblems, viewProblems } from '../../src/templates/block-kit-rules.js';

export interface FakeChannel {
  id: string;
  name: string;
  is_archived: boolean;
  topic: string;
  purpose: string;
  members: string[];
  /** Who created it: the bot (UFIREBREAK) for conversations.create, a person otherwise. */
  creator: string;
}

export interface FakeMessage {
  channel: string;
  ts: string;
  text: string;
  blocks?: unknown[];
  thread_ts?: string;
  user?: string;
  ephemeralTo?: string;
  file?: { title: string; filename: string; content: string };
  /** Slack message metadata, as chat.postMessage received it. */
  metadata?: { event_type: string; event_payload: Record<string, unknown> };
}

export interface RecordedCall {
  method: string;
  args: Record<string, unknown>;
  token?: string;
  /** When the call arrived (Date.now()), for tests of real-time pacing. */
  at: number;
}

/** A payload real Slack would refuse: which call, and what is wrong with it. */
export interface SlackViolation {
  method: string;
  problems: string[];
  payload: unknown;
}

/** Methods whose payload is a message, and those whose payload is a view. */
const MESSAGE_METHODS = new Set(['chat.postMessage', 'chat.update', 'chat.postEphemeral', 'chat.scheduleMessage']);
const VIEW_METHODS = new Set(['views.open', 'views.update', 'views.push', 'views.publish']);

type Failure = { error: string; times: number; status?: number; retryAfter?: number; delayMs?: number; channel?: string };

/** The value of button `actionId` on a message, or undefined. */
export function buttonValueOf(m: FakeMessage, actionId: string): string | undefined {
  const re = new RegExp(`"action_id":"${actionId}","value":"([^"]+)"`);
  return re.exec(JSON.stringify(m.blocks ?? []))?.[1];
}

export class FakeSlack {
  /** Every started fake, so the suite's afterEach can fail the test that sent an invalid payload. */
  static readonly live = new Set<FakeSlack>();
  readonly calls: RecordedCall[] = [];
  /**
   * Payloads Slack would have refused (answered like Slack does: `invalid_blocks`,
   * `msg_too_long`, `invalid_arguments`). test/setup/slack-fidelity.ts fails the test that
   * caused one; a test that sends one on purpose takes them with `takeViolations()`.
   */
  readonly violations: SlackViolation[] = [];
  readonly channels: FakeChannel[] = [];
  readonly messages: FakeMessage[] = [];
  readonly views: { trigger_id: string; view: Record<string, unknown> }[] = [];
  readonly userGroups = new Map<string, string[]>();
  /** Profiles users.info answers with; other ids get a profile with no display name. */
  readonly users = new Map<string, { display_name?: string; real_name?: string; email?: string }>();
  /** Bodies posted to response_url (ephemeral replies to commands and buttons), by url. */
  readonly responses: { url: string; body: Record<string, unknown> }[] = [];
  private failures = new Map<string, Failure[]>();
  private delays = new Map<string, number>();
  private holds = new Map<string, Promise<void>>();
  private nextHolds = new Map<string, Promise<string | undefined>>();
  private uploads = new Map<string, { filename: string; content?: string }>();
  private extraMethods = new Map<string, (args: Record<string, unknown>, token: string | undefined) => Record<string, unknown>>();
  private seq = 0;
  private tsSeq = 0;
  private server = http.createServer((req, res) => void this.handle(req, res));
  url = '';

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    FakeSlack.live.add(this);
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/api/`;
    return this;
  }

  async stop(): Promise<void> {
    FakeSlack.live.delete(this);
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  /** Returns and forgets the violations recorded so far. */
  takeViolations(): SlackViolation[] {
    return this.violations.splice(0);
  }

  private check(method: string, payload: unknown, problems: string[]): boolean {
    if (problems.length === 0) return true;
    this.violations.push({ method, problems, payload });
    return false;
  }

  addChannel(name: string, opts: { archived?: boolean; id?: string; creator?: string } = {}): FakeChannel {
    const ch: FakeChannel = { id: opts.id ?? `C${String(++this.seq).padStart(8, '0')}`, name, is_archived: !!opts.archived, topic: '', purpose: '', members: [], creator: opts.creator ?? 'U0ADMIN' };
    this.channels.push(ch);
    return ch;
  }

  channel(nameOrId: string): FakeChannel | undefined {
    return this.channels.find((c) => c.id === nameOrId || c.name === nameOrId);
  }

  /** Makes the next `times` calls of `method` (in `channel`, when given) fail with Slack error `error` (or HTTP status). */
  fail(method: string, error: string, opts: { times?: number; status?: number; retryAfter?: number; delayMs?: number; channel?: string } = {}): void {
    const list = this.failures.get(method) ?? [];
    list.push({ error, times: opts.times ?? 1, status: opts.status, retryAfter: opts.retryAfter, delayMs: opts.delayMs, channel: opts.channel });
    this.failures.set(method, list);
  }

  /** Answers `method` with `answer` (for APIs another fake owns, such as apps.connections.open). */
  handleMethod(method: string, answer: (args: Record<string, unknown>, token: string | undefined) => Record<string, unknown>): void {
    this.extraMethods.set(method, answer);
  }

  /** Answers every call of `method` normally but only after `ms` (0 removes the delay). */
  slow(method: string, ms: number): void {
    if (ms > 0) this.delays.set(method, ms);
    else this.delays.delete(method);
  }

  /**
   * Holds every call of `method` (recorded on arrival, answered normally) until the returned
   * function is called: a request in flight for exactly as long as a test needs.
   */
  hold(method: string): () => void {
    let release!: () => void;
    this.holds.set(method, new Promise<void>((r) => (release = r)));
    return () => {
      this.holds.delete(method);
      release();
    };
  }

  /**
   * Holds only the next call of `method` (later ones pass) until the returned function is called,
   * then answers it normally or, given an error, with that Slack error: one attempt's request in
   * flight while another's goes through, ending as the test decides.
   */
  holdNext(method: string): (error?: string) => void {
    let release!: (error: string | undefined) => void;
    this.nextHolds.set(method, new Promise<string | undefined>((r) => (release = r)));
    return (error) => release(error);
  }

  callsTo(method: string): Record<string, unknown>[] {
    return this.calls.filter((c) => c.method === method).map((c) => c.args);
  }

  /** Base for response_url values handed out in signed test payloads. */
  responseUrl(id: string): string {
    return this.url.replace(/\/api\/$/, '') + `/response/${id}`;
  }

  /**
   * The value of button `actionId` on the first message in `channel` whose text contains
   * `textIncludes`, as a person would click it now; throws when there is no such button.
   */
  buttonValue(channel: string, textIncludes: string, actionId: string): string {
    const m = this.messagesIn(channel).find((x) => x.text.includes(textIncludes));
    const v = m && buttonValueOf(m, actionId);
    if (!v) throw new Error(`no ${actionId} button on a message containing "${textIncludes}" in #${channel}`);
    return v;
  }

  /** Texts of the ephemeral replies sent to a response_url. */
  replies(id?: string): string[] {
    return this.responses.filter((r) => !id || r.url === `/response/${id}`).map((r) => String(r.body.text ?? ''));
  }

  messagesIn(nameOrId: string): FakeMessage[] {
    const ch = this.channel(nameOrId);
    return this.messages.filter((m) => m.channel === (ch?.id ?? nameOrId));
  }

  private nextTs(): string {
    this.tsSeq++;
    return `${1_700_000_000 + this.tsSeq}.${String(this.tsSeq).padStart(6, '0')}`;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname.startsWith('/upload/')) {
      const id = url.pathname.split('/')[2]!;
      const u = this.uploads.get(id);
      if (u) u.content = extractUploadContent(raw, String(req.headers['content-type'] ?? ''));
      res.writeHead(200, { 'content-type': 'text/plain' });
      return void res.end('OK - ' + raw.length);
    }
    if (url.pathname.startsWith('/response/')) {
      const body = raw.length ? (JSON.parse(raw.toString('utf8')) as Record<string, unknown>) : {};
      if (!this.check(`response_url`, body, body.delete_original ? [] : messageProblems(body))) {
        res.writeHead(400, { 'content-type': 'text/plain' });
        return void res.end('invalid_blocks');
      }
      this.responses.push({ url: url.pathname, body });
      res.writeHead(200, { 'content-type': 'text/plain' });
      return void res.end('ok');
    }
    const method = url.pathname.replace(/^\/api\//, '');
    const args = parseArgs(raw, String(req.headers['content-type'] ?? ''));
    const token = String(req.headers.authorization ?? '').replace(/^Bearer /, '') || (args.token as string | undefined);
    this.calls.push({ method, args, token, at: Date.now() });
    const next = this.nextHolds.get(method);
    if (next) {
      this.nextHolds.delete(method);
      const error = await next;
      if (error) {
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end(JSON.stringify({ ok: false, error }));
      }
    }
    const pending = this.failures.get(method);
    // A failure may be limited to one channel (by id), so other traffic does not use it up.
    const fi = pending?.findIndex((x) => !x.channel || x.channel === args.channel) ?? -1;
    const f = fi >= 0 ? pending![fi] : undefined;
    if (f) {
      if (--f.times <= 0) pending!.splice(fi, 1);
      if (f.delayMs) await new Promise((r) => setTimeout(r, f.delayMs));
      if (f.status === 429) {
        res.writeHead(429, { 'retry-after': String(f.retryAfter ?? 1), 'content-type': 'application/json' });
        return void res.end(JSON.stringify({ ok: false, error: 'ratelimited' }));
      }
      res.writeHead(f.status ?? 200, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ ok: false, error: f.error }));
    }
    const refusal = this.validate(method, args);
    if (refusal) {
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ ok: false, error: refusal }));
    }
    const delay = this.delays.get(method);
    if (delay) await new Promise((r) => setTimeout(r, delay));
    await this.holds.get(method);
    const out = this.extraMethods.get(method)?.(args, token) ?? this.answer(method, args);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(out));
  }

  /** Slack's own error for an invalid payload, or undefined when Slack would take it. */
  private validate(method: string, a: Record<string, unknown>): string | undefined {
    if (MESSAGE_METHODS.has(method)) {
      const problems = messageProblems({ text: a.text, blocks: typeof a.blocks === 'string' ? safeJson(a.blocks) : a.blocks });
      if (this.check(method, a, problems)) return undefined;
      return problems.some((p) => p.startsWith('text is')) ? 'msg_too_long' : 'invalid_blocks';
    }
    if (VIEW_METHODS.has(method)) {
      const view = typeof a.view === 'string' ? safeJson(a.view) : a.view;
      return this.check(method, view, viewProblems(view)) ? undefined : 'invalid_arguments';
    }
    if (method === 'conversations.setTopic' || method === 'conversations.setPurpose') {
      const text = String(a.topic ?? a.purpose ?? '');
      // conversations.setTopic / setPurpose: at most 250 characters, else `too_long`.
      return this.check(method, a, text.length > 250 ? [`${text.length} characters; the limit is 250`] : []) ? undefined : 'too_long';
    }
    return undefined;
  }

  private answer(method: string, a: Record<string, unknown>): Record<string, unknown> {
    const ok = (x: Record<string, unknown> = {}) => ({ ok: true, ...x });
    const err = (error: string) => ({ ok: false, error });
    const chan = (id: unknown) => this.channels.find((c) => c.id === id);
    switch (method) {
      case 'auth.test':
        return ok({ user_id: 'UFIREBREAK', bot_id: 'BFIREBREAK', team_id: 'T0TEST', user: 'firebreak', team: 'test' });
      case 'conversations.create': {
        const name = String(a.name ?? '');
        if (!/^[a-z0-9_-]{1,80}$/.test(name)) return err('invalid_name_specials');
        if (this.channels.some((c) => c.name === name)) return err('name_taken');
        const ch = this.addChannel(name, { creator: 'UFIREBREAK' });
        ch.members.push('UFIREBREAK');
        return ok({ channel: { id: ch.id, name: ch.name, is_archived: false, creator: ch.creator } });
      }
      case 'conversations.list': {
        const limit = Number(a.limit ?? 100);
        const start = Number(a.cursor ?? 0);
        const excludeArchived = a.exclude_archived === true || a.exclude_archived === 'true';
        const list = this.channels.filter((c) => !excludeArchived || !c.is_archived);
        const page = list.slice(start, start + limit);
        const next = start + limit < list.length ? String(start + limit) : '';
        return ok({ channels: page.map((c) => ({ id: c.id, name: c.name, is_archived: c.is_archived, creator: c.creator })), response_metadata: { next_cursor: next } });
      }
      case 'conversations.info': {
        const ch = chan(a.channel);
        return ch ? ok({ channel: { id: ch.id, name: ch.name, is_archived: ch.is_archived, creator: ch.creator, topic: { value: ch.topic }, purpose: { value: ch.purpose } } }) : err('channel_not_found');
      }
      case 'conversations.join': {
        const ch = chan(a.channel);
        if (!ch) return err('channel_not_found');
        if (!ch.members.includes('UFIREBREAK')) ch.members.push('UFIREBREAK');
        return ok({ channel: { id: ch.id } });
      }
      case 'conversations.setTopic':
      case 'conversations.setPurpose': {
        const ch = chan(a.channel);
        if (!ch) return err('channel_not_found');
        if (method.endsWith('Topic')) ch.topic = String(a.topic);
        else ch.purpose = String(a.purpose);
        return ok();
      }
      case 'conversations.invite': {
        const ch = chan(a.channel);
        if (!ch) return err('channel_not_found');
        const users = String(a.users ?? '').split(',').filter(Boolean);
        if (users.some((u) => !/^[UW][A-Z0-9]+$/.test(u))) return err('user_not_found');
        for (const u of users) if (!ch.members.includes(u)) ch.members.push(u);
        return ok({ channel: { id: ch.id } });
      }
      case 'conversations.members': {
        const ch = chan(a.channel);
        return ch ? ok({ members: ch.members, response_metadata: { next_cursor: '' } }) : err('channel_not_found');
      }
      case 'conversations.open': {
        const user = String(a.users ?? '');
        let ch = this.channels.find((c) => c.name === `dm-${user}`);
        if (!ch) ch = this.addChannel(`dm-${user}`, { id: `D${user}` });
        return ok({ channel: { id: ch.id } });
      }
      case 'conversations.history':
      case 'conversations.replies': {
        const ch = chan(a.channel);
        if (!ch) return err('channel_not_found');
        const latest = a.latest as string | undefined;
        const parent = method === 'conversations.replies' ? String(a.ts ?? '') : undefined;
        if (parent !== undefined && !this.messages.some((m) => m.channel === ch.id && m.ts === parent)) return err('thread_not_found');
        // Like Slack: history lists the channel newest first without thread replies (an exact
        // `latest` lookup finds any message); replies lists a thread oldest first.
        let msgs = this.messages.filter((m) => m.channel === ch.id && !m.ephemeralTo);
        if (parent !== undefined) msgs = msgs.filter((m) => m.ts === parent || m.thread_ts === parent);
        else if (latest) msgs = msgs.filter((m) => m.ts === latest);
        else msgs = msgs.filter((m) => !m.thread_ts).reverse();
        const limit = Number(a.limit ?? 100);
        const start = Number(a.cursor ?? 0);
        const page = msgs.slice(start, start + limit);
        const withMeta = a.include_all_metadata === true || a.include_all_metadata === 'true';
        return ok({
          messages: page.map((m) => ({
            ts: m.ts, text: m.text, blocks: m.blocks, thread_ts: m.thread_ts,
            ...(m.file ? { files: [{ name: m.file.filename, title: m.file.title }] } : {}),
            ...(withMeta && m.metadata ? { metadata: m.metadata } : {}),
          })),
          has_more: start + limit < msgs.length,
          response_metadata: { next_cursor: start + limit < msgs.length ? String(start + limit) : '' },
        });
      }
      case 'usergroups.users.list': {
        const users = this.userGroups.get(String(a.usergroup));
        return users ? ok({ users }) : err('no_such_subteam');
      }
      case 'chat.postMessage': {
        const ch = chan(a.channel) ?? this.channels.find((c) => c.name === a.channel);
        if (!ch) return err('channel_not_found');
        if (ch.is_archived) return err('is_archived');
        const m: FakeMessage = { channel: ch.id, ts: this.nextTs(), text: String(a.text ?? ''), blocks: a.blocks as unknown[] | undefined, thread_ts: a.thread_ts as string | undefined };
        const meta = a.metadata as FakeMessage['metadata'] | undefined;
        if (meta && typeof meta === 'object') {
          if (typeof meta.event_type !== 'string' || typeof meta.event_payload !== 'object') return err('invalid_metadata_format');
          m.metadata = meta;
        }
        this.messages.push(m);
        return ok({ channel: ch.id, ts: m.ts, message: { text: m.text } });
      }
      case 'chat.update': {
        const m = this.messages.find((x) => x.channel === a.channel && x.ts === a.ts);
        if (!m) return err('message_not_found');
        m.text = String(a.text ?? m.text);
        if (a.blocks) m.blocks = a.blocks as unknown[];
        return ok({ channel: m.channel, ts: m.ts });
      }
      case 'chat.postEphemeral': {
        const ch = chan(a.channel);
        if (!ch) return err('channel_not_found');
        const m: FakeMessage = { channel: ch.id, ts: this.nextTs(), text: String(a.text ?? ''), blocks: a.blocks as unknown[] | undefined, ephemeralTo: String(a.user) };
        this.messages.push(m);
        return ok({ message_ts: m.ts });
      }
      case 'chat.getPermalink':
        return ok({ permalink: `https://test.slack.com/archives/${String(a.channel)}/p${String(a.message_ts).replace('.', '')}` });
      case 'views.open': {
        if (!a.trigger_id) return err('invalid_trigger_id');
        const view = (typeof a.view === 'string' ? JSON.parse(a.view) : a.view) as Record<string, unknown>;
        this.views.push({ trigger_id: String(a.trigger_id), view });
        return ok({ view: { id: `V${++this.seq}`, ...view } });
      }
      case 'files.getUploadURLExternal': {
        const id = `F${++this.seq}`;
        this.uploads.set(id, { filename: String(a.filename) });
        return ok({ upload_url: this.url.replace(/\/api\/$/, '') + `/upload/${id}`, file_id: id });
      }
      case 'files.completeUploadExternal': {
        const files = (typeof a.files === 'string' ? JSON.parse(a.files) : a.files) as { id: string; title?: string }[];
        const channelId = String(a.channel_id ?? a.channels ?? '');
        for (const f of files) {
          const u = this.uploads.get(f.id);
          this.messages.push({ channel: channelId, ts: this.nextTs(), text: '', thread_ts: a.thread_ts as string | undefined, file: { title: f.title ?? '', filename: u?.filename ?? '', content: u?.content ?? '' } });
        }
        return ok({ files: files.map((f) => ({ id: f.id, title: f.title })) });
      }
      case 'users.info':
        return ok({ user: { id: a.user, name: String(a.user).toLowerCase(), real_name: String(a.user), profile: { display_name: '', real_name: String(a.user), ...this.users.get(String(a.user)) } } });
      default:
        return err('unknown_method');
    }
  }
}

function parseArgs(raw: Buffer, contentType: string): Record<string, unknown> {
  const text = raw.toString('utf8');
  if (contentType.includes('application/json')) return text ? (JSON.parse(text) as Record<string, unknown>) : {};
  if (contentType.includes('multipart/form-data')) return {};
  const out: Record<string, unknown> = {};
  for (const [k, v] of new URLSearchParams(text)) {
    // The SDK JSON-encodes arrays and objects inside form bodies.
    out[k] = /^[[{]/.test(v) ? safeJson(v) : v;
  }
  return out;
}

function safeJson(v: string): unknown {
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}

function extractUploadContent(raw: Buffer, contentType: string): string {
  const m = /boundary=(?:"([^"]+)"|([^;]+))/.exec(contentType);
  if (!m) return raw.toString('utf8');
  const boundary = `--${m[1] ?? m[2]}`;
  const parts = raw.toString('utf8').split(boundary).filter((p) => p.includes('\r\n\r\n'));
  const body = parts[0]?.split('\r\n\r\n').slice(1).join('\r\n\r\n') ?? '';
  return body.replace(/\r\n$/, '');
}
