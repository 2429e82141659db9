import { randomUUID } from 'node:crypto';
import { findUnstorableText } from '../http/unstorable-text.js';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { FirebreakApp } from '../app/app.js';
import type { Block, ChatMessage, ModalView } from '../chat/surface.js';
import type { Actor, Reply, ViewErrors } from '../chat/interactions.js';
import { json, problem, type HttpRequest, type HttpResponse, type Route } from '../http/router.js';
import { CONSOLE_BOT, type ConsoleSurface } from './surface.js';
import { ConsoleAccess, CSRF_HEADER, type AccessRefusal, type ConsoleSession } from './access.js';
import type { Logger } from '../log.js';

/** What the console routes use of the app: the interaction router, the log and config, and whether it is draining. */
/** `interactions` is read on every request: after a configuration reload it is the new generation's. */
export type ConsoleHost = Pick<FirebreakApp, 'interactions' | 'ctx'> & { lifecycle?: Pick<FirebreakApp['lifecycle'], 'draining'> };

export interface ConsoleRouteOptions {
  /** Who may use the console; built from config.console when not given (main.ts prints its login links). */
  access?: ConsoleAccess;
  /** Longest a state request waits for news before answering "nothing new" (long-poll). */
  maxWaitMs?: number;
}

/** Optional: an exposed console fixes the user at login, and the laptop page sends the one picked. */
const userField = z.string().trim().min(1, 'pick a console user').max(40).optional();
const channelField = z.string().trim().min(1, 'name a channel').max(100);

const commandBody = z.object({
  user: userField,
  channel: channelField,
  text: z.string().trim().min(1, 'type a slash command such as /incident help').max(4000, 'at most 4000 characters'),
});
const actionBody = z.object({
  user: userField,
  channel: channelField,
  messageTs: z.string().regex(/^\d+\.\d+$/, 'a message ts such as 1767225600.000042'),
  actionId: z.string().min(1).max(255),
  value: z.string().max(2000).optional(),
});
const viewBody = z.object({
  user: userField,
  callbackId: z.string().min(1).max(255),
  values: z.record(z.string(), z.string().max(10_000).nullable().optional()).default({}),
  privateMetadata: z.string().max(3000).optional(),
  /** The modal the form was rendered from; a stale form is refused instead of submitted to a newer one. */
  modalId: z.number().int().optional(),
});
const closeBody = z.object({ user: userField, modalId: z.number().int().optional() });
const stateQuery = z.object({
  user: userField,
  since: z.coerce.number().int().min(0, 'a cursor from a previous answer, or 0').default(0),
  /** Seconds to wait for something new before answering (long-poll); 0 answers at once. */
  wait: z.coerce.number().int().min(0).max(60).default(0),
});

type Parsed<T> = { ok: true; value: T } | { ok: false; response: HttpResponse };

function describeIssues(e: z.ZodError): string {
  return e.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
}

function parseJson<T>(req: HttpRequest, schema: z.ZodType<T>): Parsed<T> {
  let raw: unknown;
  try {
    raw = JSON.parse(req.body.toString('utf8') || 'null');
  } catch {
    return { ok: false, response: problem(400, 'invalid_json', 'Send a JSON object as the request body') };
  }
  // The same text check as every other receiver: stored later, it would fail as a 500.
  const unstorable = findUnstorableText(raw);
  if (unstorable) return { ok: false, response: problem(422, 'unstorable_text', unstorable) };
  const r = schema.safeParse(raw);
  return r.success ? { ok: true, value: r.data } : { ok: false, response: problem(400, 'invalid_request', describeIssues(r.error)) };
}

function staticDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  // From src/ (tsx) the files sit beside this module; a dist/ build has no copy, so use the sources.
  for (const dir of [path.join(here, 'static'), path.resolve(here, '../../src/console/static')]) {
    if (existsSync(path.join(dir, 'console.html'))) return dir;
  }
  throw new Error('console page files (src/console/static) are missing');
}

/**
 * Slack's own shortcode table (iamcal/emoji-data, the `emoji-datasource` package), as
 * `{ shortcode: character }` for the page: `:mega:` reads as in Slack, not as its code.
 */
function emojiTable(): Buffer {
  const data = createRequire(import.meta.url)('emoji-datasource/emoji.json') as Array<{ unified: string; short_names: string[] }>;
  const table: Record<string, string> = {};
  for (const e of data) {
    const char = String.fromCodePoint(...e.unified.split('-').map((h) => parseInt(h, 16)));
    for (const name of e.short_names) table[name] = char;
  }
  return Buffer.from(JSON.stringify(table));
}

const LOGIN_PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Firebreak console: sign in</title></head>
<body><h1>Sign in to the Firebreak console</h1>
<p>This console is exposed beyond its machine, so each person signs in with their own login link.
Firebreak printed one link per console user when it started; ask whoever runs it for yours.</p></body></html>`;

const asMessage = (m: ChatMessage | string): ChatMessage => (typeof m === 'string' ? { text: m } : m);

/** Interactive elements of a message, by action_id: buttons in actions blocks and section accessories. */
function elementsOf(blocks: Block[] | null): Map<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>();
  for (const b of blocks ?? []) {
    const els = (b.type === 'actions' ? b.elements : b.type === 'section' && b.accessory ? [b.accessory] : []) as unknown as Record<string, unknown>[];
    for (const e of els) if (typeof e.action_id === 'string') out.set(e.action_id, e);
  }
  return out;
}

interface InputField {
  blockId: string;
  optional: boolean;
  element: Record<string, unknown>;
}

function inputsOf(view: ModalView): InputField[] {
  return view.blocks
    .filter((b) => b.type === 'input' && typeof b.block_id === 'string')
    .map((b) => ({ blockId: b.block_id as string, optional: b.type === 'input' && b.optional === true, element: (b.type === 'input' ? b.element : {}) as unknown as Record<string, unknown> }));
}

type Option = { value?: string };
function optionValues(el: Record<string, unknown>): string[] | undefined {
  const opts = (el.options as Option[] | undefined) ?? ((el.option_groups as Array<{ options?: Option[] }> | undefined)?.flatMap((g) => g.options ?? []));
  return opts?.map((o) => o.value ?? '');
}

/**
 * Checks a submitted form the way Slack's client does before anything reaches Firebreak:
 * required fields, lengths, and that choices are among the offered options.
 */
function formErrors(view: ModalView, values: Record<string, string | undefined>, userIds: Set<string>): ViewErrors {
  const errors: ViewErrors = {};
  for (const f of inputsOf(view)) {
    const v = values[f.blockId]?.trim() ?? '';
    if (!v) {
      if (!f.optional) errors[f.blockId] = 'Please complete this required field.';
      continue;
    }
    const el = f.element;
    if (el.type === 'plain_text_input') {
      if (typeof el.min_length === 'number' && v.length < el.min_length) errors[f.blockId] = `Please use at least ${el.min_length} characters.`;
      if (typeof el.max_length === 'number' && v.length > el.max_length) errors[f.blockId] = `Please use at most ${el.max_length} characters.`;
    } else if (el.type === 'static_select' || el.type === 'radio_buttons') {
      const allowed = optionValues(el);
      if (allowed && !allowed.includes(v)) errors[f.blockId] = 'Please pick one of the options.';
    } else if (el.type === 'users_select') {
      if (!userIds.has(v)) errors[f.blockId] = 'Please pick a user from the list.';
    }
  }
  return errors;
}

/** The console's static files, read once at start. */
interface ConsoleFiles { html: Buffer; js: Buffer; mrkdwn: Buffer; css: Buffer; icon: Buffer; emoji: Buffer }

const NO_STORE = { 'cache-control': 'no-store' };
const HTML = 'text/html; charset=utf-8';

const pageHeaders = (type: string) => ({
  'content-type': type, ...NO_STORE,
  // Everything the page needs is served from here; nothing inline, nothing remote.
  'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
});

const refused = (r: AccessRefusal): HttpResponse => problem(r.status, r.error, r.detail);
const isResponse = (x: Actor | HttpResponse): x is HttpResponse => 'status' in x;

/** What every console route shares: the app, the surface, who may use it, and the checks each request goes through. */
class ConsoleKit {
  readonly log: Logger;

  constructor(readonly app: ConsoleHost, readonly surface: ConsoleSurface, readonly access: ConsoleAccess, readonly files: ConsoleFiles, readonly maxWaitMs: number) {
    this.log = app.ctx.log.child({ area: 'console' });
  }

  /** A static file: anyone who passes the origin checks may load it (it holds nothing secret). */
  asset(body: Buffer, type: string): Route['handle'] {
    return async (req) => {
      const bad = this.access.checkOrigin(req);
      return bad ? refused(bad) : { status: 200, headers: pageHeaders(type), body };
    };
  }

  /**
   * An API endpoint: origin checks, then session, CSRF header and JSON. The handler gets the
   * session, whose user (when exposed) is the only user it may act as.
   */
  api(handle: (req: HttpRequest, session: ConsoleSession) => Promise<HttpResponse>): Route['handle'] {
    return async (req) => {
      const session = this.access.session(req.headers);
      const bad = this.access.checkOrigin(req) ?? this.access.checkApi(req, session);
      if (bad) return refused(bad);
      return handle(req, session!);
    };
  }

  knownUser(session: ConsoleSession, requested: string | undefined): Actor | HttpResponse {
    const { surface } = this;
    if (session.user && requested && requested !== session.user && surface.user(session.user)?.name !== requested) {
      return problem(403, 'user_fixed_by_login', 'This console is exposed: you act only as the user you signed in as');
    }
    const id = session.user ?? requested;
    if (!id) return problem(400, 'invalid_request', 'user: pick a console user');
    const u = surface.users.find((x) => x.id === id || x.name === id);
    if (u) return { userId: u.id, userName: u.name };
    return problem(400, 'unknown_user', `No console user ${id}. Pick one of: ${surface.users.map((x) => `${x.name} (${x.id})`).join(', ')}`);
  }

  /** The request's JSON body and who acts: the person's own user, or the one the laptop page picked. */
  whoAndWhat<T extends { user?: string }>(req: HttpRequest, session: ConsoleSession, schema: z.ZodType<T>): { actor: Actor; body: T } | HttpResponse {
    const parsed = parseJson(req, schema);
    if (!parsed.ok) return parsed.response;
    const actor = this.knownUser(session, parsed.value.user);
    return isResponse(actor) ? actor : { actor, body: parsed.value };
  }

  replyTo(actor: Actor, channel: string, triggerId: string): Reply {
    return {
      ephemeral: (m) => this.surface.postEphemeral(channel, actor.userId, asMessage(m)),
      openModal: (view) => this.surface.openModal(triggerId, view),
    };
  }

  /** A handler failure: the person sees what failed in the channel, the page gets a 500. */
  async failed(what: string, actor: Actor, tell: (m: ChatMessage) => Promise<unknown>, err: unknown): Promise<HttpResponse> {
    const id = randomUUID().slice(0, 8);
    this.log.error({ err, what, user: actor.userId, errorId: id }, 'console interaction failed');
    const detail = `${what} failed: ${(err as Error)?.message ?? String(err)} (error ${id}; details in the Firebreak log)`;
    await tell({ text: `:warning: ${detail}` }).catch(() => {});
    return problem(500, 'interaction_failed', detail);
  }

  inChannel(channel: string, actor: Actor): (m: ChatMessage) => Promise<unknown> {
    return (m) => this.surface.postEphemeral(channel, actor.userId, m);
  }

  async openChannel(nameOrId: string) {
    const ch = await this.surface.channel(nameOrId);
    if (!ch) return problem(404, 'channel_not_found', `No channel ${nameOrId} in the console`);
    if (ch.archived) return problem(409, 'is_archived', `#${ch.name} is archived`);
    return ch;
  }
}

/** GET /console: the page; on the laptop it starts the session, when exposed it asks for a login link. */
function pageRoute(k: ConsoleKit): Route['handle'] {
  return async (req) => {
    const bad = k.access.checkOrigin(req);
    if (bad) return refused(bad);
    if (k.access.session(req.headers)) return { status: 200, headers: pageHeaders(HTML), body: k.files.html };
    if (k.access.exposed) {
      return { status: 401, headers: pageHeaders(HTML), body: Buffer.from(LOGIN_PAGE) };
    }
    // On the laptop the page itself starts the session its API calls need.
    const { setCookie } = k.access.newSession(null);
    return { status: 200, headers: { ...pageHeaders(HTML), 'set-cookie': setCookie }, body: k.files.html };
  };
}

/** GET /console/login: a person's login link (exposed console only) becomes their session. */
function loginRoute(k: ConsoleKit): Route['handle'] {
  return async (req) => {
    const bad = k.access.checkOrigin(req);
    if (bad) return refused(bad);
    if (!k.access.exposed) return { status: 303, headers: { location: '/console', ...NO_STORE }, body: '' };
    const user = req.query.get('user') ?? '';
    const token = req.query.get('token') ?? '';
    if (!k.surface.users.some((u) => u.id === user) || !k.access.checkLogin(user, token)) {
      k.log.warn({ user: user.slice(0, 40) }, 'console login refused');
      return { status: 401, headers: pageHeaders(HTML), body: Buffer.from(LOGIN_PAGE) };
    }
    const { setCookie } = k.access.newSession(user);
    k.log.info({ user }, 'console login');
    // Redirect so the token leaves the address bar and the history.
    return { status: 303, headers: { location: '/console', 'set-cookie': setCookie, 'referrer-policy': 'no-referrer', ...NO_STORE }, body: '' };
  };
}

/** GET /console/api/session: the page's first call; it has no CSRF token yet, so this one reads it (same-origin only). */
function sessionRoute(k: ConsoleKit): Route['handle'] {
  return async (req) => {
    const bad = k.access.checkOrigin(req);
    if (bad) return refused(bad);
    const session = k.access.session(req.headers);
    if (!session) return refused(k.access.checkApi(req, undefined)!);
    return json(200, { exposed: k.access.exposed, user: session.user, csrf: session.csrf, csrfHeader: CSRF_HEADER }, NO_STORE);
  };
}

/** GET /console/api/meta: the bot, the users and groups, and the slash commands with their subcommands. */
function metaRoute(k: ConsoleKit): Route['handle'] {
  return k.api(async () =>
    json(200, {
      bot: CONSOLE_BOT,
      users: k.surface.users,
      userGroups: k.surface.userGroups.map((g) => ({ id: g.id, handle: g.handle })),
      commands: [...k.app.interactions.commands.values()].map((t) => ({
        command: t.command,
        description: t.description,
        subcommands: t.subcommands.map((s) => ({ name: s.name, aliases: s.aliases ?? [], usage: s.usage, description: s.description })),
      })),
    }, NO_STORE));
}

/** GET /console/api/state: what the user sees since a cursor, waiting for news when asked to (long-poll). */
function stateRoute(k: ConsoleKit): Route['handle'] {
  return k.api(async (req, session) => {
    const q = stateQuery.safeParse(Object.fromEntries(req.query));
    if (!q.success) return problem(400, 'invalid_request', describeIssues(q.error));
    const actor = k.knownUser(session, q.data.user);
    if (isResponse(actor)) return actor;
    const since = q.data.since;
    let s = await k.surface.state(actor.userId, since);
    if (q.data.wait > 0 && since > 0 && s.cursor <= since) {
      await k.surface.waitForChange(since, Math.min(q.data.wait * 1000, k.maxWaitMs), () => k.app.lifecycle?.draining === true);
      s = await k.surface.state(actor.userId, since);
    }
    return json(200, s, NO_STORE);
  });
}

/** POST /console/api/command: a slash command (or a plain message) typed in a channel. */
function commandRoute(k: ConsoleKit): Route['handle'] {
  return k.api(async (req, session) => {
    const r = k.whoAndWhat(req, session, commandBody);
    if ('status' in r) return r;
    const { actor, body } = r;
    const ch = await k.openChannel(body.channel);
    if ('status' in ch) return ch;
    const text = body.text;
    const m = /^(\/[a-z0-9_-]+)(?:\s+([\s\S]*))?$/i.exec(text);
    if (!text.startsWith('/')) {
      // Plain chat: a message from the person, which areas may listen to (e.g. timelines).
      const posted = await k.surface.postAs(actor.userId, ch.id, { text });
      try {
        await k.app.interactions.event({ type: 'message', eventId: `console:${randomUUID()}`, actor, channelId: ch.id, messageTs: posted.ts, text });
      } catch (e) {
        return k.failed('Handling your message', actor, k.inChannel(ch.id, actor), e);
      }
      return json(200, { ok: true, ts: posted.ts });
    }
    if (!m) return problem(400, 'invalid_command', 'A command looks like /incident declare P1 Database down');
    const command = m[1]!.toLowerCase();
    await k.surface.postAs(actor.userId, ch.id, { text }, { onlyVisibleTo: actor.userId });
    const triggerId = k.surface.issueTrigger(actor.userId);
    const inv = { command, text: (m[2] ?? '').trim(), actor, channelId: ch.id, triggerId, requestKey: `console:${randomUUID()}` };
    try {
      await k.app.interactions.command(inv, k.replyTo(actor, ch.id, triggerId));
    } catch (e) {
      return k.failed(`\`${command}\``, actor, k.inChannel(ch.id, actor), e);
    }
    return json(200, { ok: true });
  });
}

/** POST /console/api/action: a button or select on a message the person can see. */
function actionRoute(k: ConsoleKit): Route['handle'] {
  return k.api(async (req, session) => {
    const r = k.whoAndWhat(req, session, actionBody);
    if ('status' in r) return r;
    const { actor, body } = r;
    const ch = await k.openChannel(body.channel);
    if ('status' in ch) return ch;
    const msg = await k.surface.message(ch.id, body.messageTs);
    if (!msg || (msg.visibleTo && msg.visibleTo !== actor.userId)) {
      return problem(404, 'message_not_found', 'That message is gone; reload the console');
    }
    const el = elementsOf(msg.blocks).get(body.actionId);
    if (!el) return problem(409, 'action_not_on_message', 'That button is no longer on the message (it was updated); look at the message again');
    // A button's value is what Firebreak put on it; only selects carry the person's choice.
    let value = typeof el.value === 'string' ? el.value : (body.value ?? '');
    if (el.type !== 'button') {
      const allowed = el.type === 'users_select' ? k.surface.users.map((u) => u.id) : optionValues(el);
      value = body.value ?? '';
      if (allowed && !allowed.includes(value)) return problem(400, 'invalid_option', 'Pick one of the options offered');
    }
    const triggerId = k.surface.issueTrigger(actor.userId);
    const inv = {
      actionId: body.actionId, value, actor, channelId: ch.id, messageTs: msg.ts, triggerId,
      requestKey: `console:${randomUUID()}`,
    };
    try {
      await k.app.interactions.action(inv, k.replyTo(actor, ch.id, triggerId));
    } catch (e) {
      return k.failed('That button', actor, k.inChannel(ch.id, actor), e);
    }
    return json(200, { ok: true });
  });
}

/** POST /console/api/view: submits the person's open modal, checked first the way Slack's client checks it. */
function viewRoute(k: ConsoleKit): Route['handle'] {
  return k.api(async (req, session) => {
    const r = k.whoAndWhat(req, session, viewBody);
    if ('status' in r) return r;
    const { actor, body } = r;
    const open = await k.surface.modalOf(actor.userId);
    if (!open || open.view.callback_id !== body.callbackId || (body.modalId !== undefined && body.modalId !== open.id)) {
      return problem(409, 'no_open_modal', 'This form is no longer open; close it and try again');
    }
    const inputs = new Set(inputsOf(open.view).map((f) => f.blockId));
    const values: Record<string, string | undefined> = {};
    for (const [key, v] of Object.entries(body.values)) if (inputs.has(key)) values[key] = v?.trim() || undefined;
    const checked = formErrors(open.view, values, new Set(k.surface.users.map((u) => u.id)));
    if (Object.keys(checked).length) return json(200, { ok: false, errors: checked });
    const triggerId = k.surface.issueTrigger(actor.userId);
    const sub = {
      callbackId: open.view.callback_id, values, actor, requestKey: `console:${randomUUID()}`,
      privateMetadata: open.view.private_metadata ?? body.privateMetadata ?? '',
    };
    // A submission has no channel (as in Slack): replies go to the person's DM with the bot.
    const toDm = (m: ChatMessage) => k.surface.postDirect(actor.userId, m);
    let errors: ViewErrors | void;
    try {
      errors = await k.app.interactions.view(sub, {
        ephemeral: async (m) => {
          await toDm(asMessage(m));
        },
        openModal: (view) => k.surface.openModal(triggerId, view),
      });
    } catch (e) {
      // The form stays open with what was typed; the page shows what failed.
      return k.failed('Submitting the form', actor, toDm, e);
    }
    if (errors && Object.keys(errors).length) return json(200, { ok: false, errors });
    // A handler that opened the next step keeps that one; otherwise the form closes.
    await k.surface.closeModal(actor.userId, open.id);
    return json(200, { ok: true });
  });
}

/** POST /console/api/view/close: the person closed their modal. */
function closeViewRoute(k: ConsoleKit): Route['handle'] {
  return k.api(async (req, session) => {
    const r = k.whoAndWhat(req, session, closeBody);
    if ('status' in r) return r;
    const { actor, body } = r;
    await k.surface.closeModal(actor.userId, body.modalId);
    return json(200, { ok: true });
  });
}

/**
 * The local console's HTTP edge: the page, its state feed, and the endpoints that turn
 * what people do on the page into the same CommandInvocation / ActionInvocation /
 * ViewSubmission the Slack edge builds, handed to the same app.interactions.
 */
export function consoleRoutes(app: ConsoleHost, surface: ConsoleSurface, opts: ConsoleRouteOptions = {}): Route[] {
  const dir = staticDir();
  const files: ConsoleFiles = {
    html: readFileSync(path.join(dir, 'console.html')),
    js: readFileSync(path.join(dir, 'console.js')),
    mrkdwn: readFileSync(path.join(dir, 'mrkdwn.js')),
    css: readFileSync(path.join(dir, 'console.css')),
    icon: readFileSync(path.join(dir, 'favicon.svg')),
    emoji: emojiTable(),
  };
  const k = new ConsoleKit(app, surface, opts.access ?? new ConsoleAccess(app.ctx.config.console), files, opts.maxWaitMs ?? 25_000);
  return [
    { method: 'GET', path: '/console', handle: pageRoute(k) },
    { method: 'GET', path: '/console/login', handle: loginRoute(k) },
    { method: 'GET', path: '/console/console.js', handle: k.asset(files.js, 'text/javascript; charset=utf-8') },
    { method: 'GET', path: '/console/mrkdwn.js', handle: k.asset(files.mrkdwn, 'text/javascript; charset=utf-8') },
    { method: 'GET', path: '/console/console.css', handle: k.asset(files.css, 'text/css; charset=utf-8') },
    { method: 'GET', path: '/console/emoji.json', handle: k.asset(files.emoji, 'application/json; charset=utf-8') },
    { method: 'GET', path: '/console/favicon.svg', handle: k.asset(files.icon, 'image/svg+xml') },
    // Browsers ask for it on every first load; a 404 there is noise in the log and the devtools.
    { method: 'GET', path: '/favicon.ico', handle: async () => ({ status: 200, headers: { 'content-type': 'image/svg+xml', 'cache-control': 'max-age=86400' }, body: files.icon }) },
    { method: 'GET', path: '/console/api/session', handle: sessionRoute(k) },
    { method: 'GET', path: '/console/api/meta', handle: metaRoute(k) },
    // A long-poll that every open tab keeps pending: one info line per answer would flood the log.
    { method: 'GET', path: '/console/api/state', quiet: true, handle: stateRoute(k) },
    { method: 'POST', path: '/console/api/command', maxBodyBytes: 16 * 1024, handle: commandRoute(k) },
    { method: 'POST', path: '/console/api/action', maxBodyBytes: 16 * 1024, handle: actionRoute(k) },
    { method: 'POST', path: '/console/api/view', maxBodyBytes: 256 * 1024, handle: viewRoute(k) },
    { method: 'POST', path: '/console/api/view/close', maxBodyBytes: 4 * 1024, handle: closeViewRoute(k) },
  ];
}
