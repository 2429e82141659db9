// The local console page: reads its session, then long-polls /console/api/state (the server
// answers as soon as something changes) and renders channels, messages (Block Kit) and modals;
// sends commands, button presses and form submissions back. No framework: the page must work
// offline on a fresh machine with nothing but Firebreak running.
import { mrkdwn, plainText, setDirectory } from './mrkdwn.js';

const $ = (id) => document.getElementById(id);
const session = { csrf: '', header: 'x-firebreak-csrf', user: null, exposed: false };
const api = async (method, path, body, signal) => {
  const res = await fetch(path, {
    method,
    signal,
    credentials: 'same-origin',
    headers: { [session.header]: session.csrf, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  let data = {};
  try { data = await res.json(); } catch { /* empty body */ }
  if (!res.ok) throw Object.assign(new Error(data.detail || data.error || `HTTP ${res.status}`), { status: res.status });
  return data;
};

const state = {
  meta: null,
  user: localStorage.getItem('firebreak.user') || '',
  channel: localStorage.getItem('firebreak.channel') || 'incidents',
  cursor: 0,
  channels: new Map(), // id -> channel
  messages: new Map(), // channel id -> Map(ts -> message)
  modal: null,
  modalId: null,
  /** Modals closed here: a long-poll answer computed before the close must not open one again. */
  closedModals: new Set(),
  generation: 0,
  /** Until then (just after sending a command), new messages scroll into view even when scrolled up. */
  followUntil: 0,
  /** Aborts the pending long-poll when the user is switched. */
  poll: null,
};

function status(text) { $('status').textContent = text || ''; }

function esc(s) {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

function userName(id) {
  const u = [state.meta?.bot, ...(state.meta?.users ?? [])].find((x) => x && x.id === id);
  return u ? u.name : id;
}

const textOf = (t) => (!t ? '' : t.type === 'mrkdwn' ? mrkdwn(t.text) : plainText(t.text, t.emoji !== false));

function buttonHtml(el, msg) {
  const label = el.text ? plainText(el.text.text, el.text.emoji !== false) : esc(el.action_id);
  if (el.url) return `<a class="link-button" href="${esc(el.url)}" target="_blank" rel="noopener">${label}</a>`;
  return `<button type="button" class="${esc(el.style || '')}" data-action="${esc(el.action_id)}" data-ts="${esc(msg.ts)}" data-channel="${esc(msg.channel)}">${label}</button>`;
}

function selectHtml(el, msg) {
  const opts = (el.options ?? []).map((o) => `<option value="${esc(o.value)}">${plainText(o.text?.text)}</option>`).join('');
  return `<select data-action="${esc(el.action_id)}" data-ts="${esc(msg.ts)}" data-channel="${esc(msg.channel)}"><option value="">${esc(el.placeholder?.text ?? 'Choose…')}</option>${opts}</select>`;
}

function blockHtml(b, msg) {
  switch (b.type) {
    case 'header': return `<div class="block-header">${textOf(b.text)}</div>`;
    case 'divider': return '<hr class="block-divider">';
    case 'context': return `<div class="block-context">${(b.elements ?? []).map((e) => (e.type === 'image' ? '' : textOf(e))).join(' · ')}</div>`;
    case 'section': {
      let h = `<div class="block-section">${textOf(b.text)}`;
      if (b.fields?.length) h += `<div class="block-fields">${b.fields.map((f) => `<div>${textOf(f)}</div>`).join('')}</div>`;
      if (b.accessory?.type === 'button') h += ` ${buttonHtml(b.accessory, msg)}`;
      return h + '</div>';
    }
    case 'actions':
      return `<div class="block-actions">${(b.elements ?? []).map((e) => (e.type === 'button' ? buttonHtml(e, msg) : e.type === 'static_select' ? selectHtml(e, msg) : '')).join('')}</div>`;
    case 'rich_text': return `<div class="block-section">${mrkdwn(msg.text)}</div>`;
    default: return '';
  }
}

function messageHtml(m) {
  const body = m.blocks?.length ? m.blocks.map((b) => blockHtml(b, m)).join('') : `<div class="block-section">${mrkdwn(m.text)}</div>`;
  const file = m.file ? `<div class="file-title">📎 ${esc(m.file.title)} <small>(${esc(m.file.filename)})</small></div><pre class="file" data-testid="file">${esc(m.file.content)}</pre>` : '';
  const when = new Date(m.postedAt).toLocaleTimeString();
  return `<div class="msg${m.visibleTo ? ' ephemeral' : ''}" data-testid="message" data-ts="${esc(m.ts)}">
    <div class="meta"><b>${esc(userName(m.author))}</b>${when}${m.editedAt ? ' (edited)' : ''}${m.visibleTo ? ' <span class="only-you">Only visible to you</span>' : ''}</div>
    ${body}${file}</div>`;
}

function currentChannel() {
  for (const c of state.channels.values()) if (c.id === state.channel || c.name === state.channel) return c;
  return undefined;
}

/** Read marks per user and channel (the highest revision seen), kept across user switches and reloads. */
const readKey = () => `firebreak.read.${state.user}`;
function readMarks() {
  try { return JSON.parse(localStorage.getItem(readKey()) || '{}'); } catch { return {}; }
}
function markRead(channelId) {
  const msgs = state.messages.get(channelId);
  if (!msgs?.size) return;
  const marks = readMarks();
  const top = Math.max(...[...msgs.values()].map((m) => m.rev));
  if ((marks[channelId] ?? 0) >= top) return;
  marks[channelId] = top;
  localStorage.setItem(readKey(), JSON.stringify(marks));
}
function unreadCount(channelId, marks) {
  let n = 0;
  for (const m of state.messages.get(channelId)?.values() ?? []) if (m.rev > (marks[channelId] ?? 0) && m.author !== state.user) n++;
  return n;
}

function renderSidebar() {
  const cur = currentChannel();
  const marks = readMarks();
  const item = (c, label) => {
    const n = cur && cur.id === c.id ? 0 : unreadCount(c.id, marks);
    return `<li><button type="button" data-channel-id="${esc(c.id)}" class="${cur && cur.id === c.id ? 'active' : ''}">${esc(label)}${c.archived ? ' (archived)' : ''}${n ? `<span class="unread">${n}</span>` : ''}</button></li>`;
  };
  const all = [...state.channels.values()];
  $('channels').innerHTML = all.filter((c) => c.kind === 'public').map((c) => item(c, '# ' + c.name)).join('');
  $('dms').innerHTML = all.filter((c) => c.kind === 'dm').map((c) => item(c, '@ firebreak')).join('');
}

function renderMessages() {
  const cur = currentChannel();
  $('channel-name').textContent = cur ? (cur.kind === 'dm' ? '@firebreak (direct messages)' : '#' + cur.name) : '';
  $('channel-topic').innerHTML = cur ? mrkdwn([cur.topic, cur.purpose].filter(Boolean).join(' — ')) : '';
  if (!cur) { $('messages').innerHTML = ''; return; }
  markRead(cur.id);
  const msgs = [...(state.messages.get(cur.id)?.values() ?? [])].sort((a, b) => a.rev - b.rev || a.ts.localeCompare(b.ts));
  const top = msgs.filter((m) => !m.threadTs || m.threadTs === m.ts).sort((a, b) => a.ts.localeCompare(b.ts));
  const replies = new Map();
  for (const m of msgs) if (m.threadTs && m.threadTs !== m.ts) (replies.get(m.threadTs) ?? replies.set(m.threadTs, []).get(m.threadTs)).push(m);
  const box = $('messages');
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  box.innerHTML = top.map((m) => {
    const r = (replies.get(m.ts) ?? []).sort((a, b) => a.ts.localeCompare(b.ts));
    return messageHtml(m) + (r.length ? `<div class="thread" data-testid="thread">${r.map(messageHtml).join('')}</div>` : '');
  }).join('');
  // Someone who just sent a command wants to see its reply, even from further up.
  if (atBottom || Date.now() < state.followUntil) box.scrollTop = box.scrollHeight;
}

function renderModal() {
  const m = state.modal;
  $('modal-backdrop').hidden = !m;
  if (!m) { state.modalId = null; return; }
  if (state.modalId === m.id) return; // keep what the person typed
  state.modalId = m.id;
  const v = m.view;
  $('modal-title').textContent = v.title?.text ?? '';
  $('modal-submit').textContent = v.submit?.text ?? 'Submit';
  $('modal-submit').hidden = !v.submit;
  $('modal-close').textContent = v.close?.text ?? 'Cancel';
  $('modal-body').innerHTML = v.blocks.map((b) => {
    if (b.type !== 'input') return blockHtml(b, { ts: '', channel: '' });
    const el = b.element ?? {};
    const id = `f-${b.block_id}`;
    const label = `<label for="${esc(id)}">${plainText(b.label?.text)}${b.optional ? ' <span class="optional">(optional)</span>' : ''}</label>`;
    const attrs = `id="${esc(id)}" name="${esc(b.block_id)}" data-testid="field-${esc(b.block_id)}"`;
    let input;
    if (el.type === 'static_select' || el.type === 'radio_buttons') {
      const init = el.initial_option?.value;
      input = `<select ${attrs}><option value="">${esc(el.placeholder?.text ?? 'Choose…')}</option>${(el.options ?? []).map((o) => `<option value="${esc(o.value)}"${o.value === init ? ' selected' : ''}>${plainText(o.text?.text)}</option>`).join('')}</select>`;
    } else if (el.type === 'users_select') {
      input = `<select ${attrs}><option value="">Choose a person…</option>${state.meta.users.map((u) => `<option value="${esc(u.id)}"${u.id === el.initial_user ? ' selected' : ''}>${esc(u.name)}</option>`).join('')}</select>`;
    } else if (el.type === 'datepicker') {
      input = `<input type="date" ${attrs} value="${esc(el.initial_date ?? '')}">`;
    } else if (el.type === 'plain_text_input' && el.multiline) {
      input = `<textarea ${attrs} rows="4">${esc(el.initial_value ?? '')}</textarea>`;
    } else {
      input = `<input ${attrs} value="${esc(el.initial_value ?? '')}" placeholder="${esc(el.placeholder?.text ?? '')}">`;
    }
    return `${label}${input}<div class="field-error" data-error-for="${esc(b.block_id)}"></div>`;
  }).join('');
}

function applyState(s, generation) {
  if (generation !== state.generation) return; // the user was switched while this was in flight
  for (const c of s.channels) state.channels.set(c.id, c);
  for (const m of s.messages) {
    const map = state.messages.get(m.channel) ?? state.messages.set(m.channel, new Map()).get(m.channel);
    map.set(m.ts, m);
  }
  state.cursor = s.cursor;
  state.modal = s.modal && state.closedModals.has(s.modal.id) ? null : s.modal;
  setDirectory({ channels: [...state.channels.values()] });
  renderSidebar();
  renderMessages();
  renderModal();
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const userParam = () => (session.exposed ? '' : `user=${encodeURIComponent(state.user)}&`);

/**
 * One request at a time, each answered by the server as soon as something changes (or after
 * ~25 s of nothing): updates arrive at once without a request every second.
 */
async function pollLoop() {
  for (;;) {
    const generation = state.generation;
    const ctl = new AbortController();
    state.poll = ctl;
    try {
      const wait = state.cursor > 0 ? 25 : 0;
      const s = await api('GET', `/console/api/state?${userParam()}since=${state.cursor}&wait=${wait}`, undefined, ctl.signal);
      applyState(s, generation);
      status('');
    } catch (e) {
      if (e.name === 'AbortError') continue;
      if (e.status === 401) return status('Signed out: open your console login link again');
      status(`Cannot reach Firebreak: ${e.message}`);
      await sleep(2000);
    }
  }
}

/** Ends the pending long-poll so the next one asks again at once (new user, or to be sure). */
const refresh = () => state.poll?.abort();

function switchUser(id) {
  state.user = id;
  localStorage.setItem('firebreak.user', id);
  state.generation++;
  state.cursor = 0;
  state.channels.clear();
  state.messages.clear();
  state.modal = null;
  state.modalId = null;
  refresh();
}

async function send(text) {
  const cur = currentChannel();
  if (!cur) return status('Pick a channel first');
  status('');
  state.followUntil = Date.now() + 10_000;
  try {
    await api('POST', '/console/api/command', { user: state.user, channel: cur.id, text });
    $('command').value = '';
  } catch (e) {
    status(e.message);
  }
}

async function act(el, value) {
  status('');
  try {
    await api('POST', '/console/api/action', { user: state.user, channel: el.dataset.channel, messageTs: el.dataset.ts, actionId: el.dataset.action, value });
  } catch (e) {
    status(e.message);
  }
}

async function submitModal(ev) {
  ev.preventDefault();
  const m = state.modal;
  if (!m) return;
  const values = {};
  for (const f of $('modal-body').querySelectorAll('[name]')) values[f.name] = f.value;
  for (const e of $('modal-body').querySelectorAll('.field-error')) e.textContent = '';
  try {
    const r = await api('POST', '/console/api/view', { user: state.user, callbackId: m.view.callback_id, values, privateMetadata: m.view.private_metadata, modalId: m.id });
    if (r.ok === false && r.errors) {
      for (const [k, msg] of Object.entries(r.errors)) {
        const slot = $('modal-body').querySelector(`[data-error-for="${CSS.escape(k)}"]`);
        if (slot) slot.textContent = msg; else status(msg);
      }
      return;
    }
    state.closedModals.add(m.id);
    state.modal = null;
    state.modalId = null;
    renderModal();
  } catch (e) {
    status(e.message);
  }
}

async function closeModal() {
  const m = state.modal;
  if (m) state.closedModals.add(m.id);
  state.modal = null;
  renderModal();
  if (m) await api('POST', '/console/api/view/close', { user: state.user, modalId: m.id }).catch((e) => status(e.message));
}

function showChannel(idOrName) {
  state.channel = idOrName;
  localStorage.setItem('firebreak.channel', state.channel);
  renderSidebar();
  renderMessages();
}

async function start() {
  const res = await fetch('/console/api/session', { credentials: 'same-origin' });
  const info = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(info.detail || `HTTP ${res.status}`);
  Object.assign(session, { csrf: info.csrf, header: info.csrfHeader, user: info.user, exposed: info.exposed });
  const [meta, emoji] = await Promise.all([api('GET', '/console/api/meta'), fetch('/console/emoji.json').then((r) => r.json()).catch(() => ({}))]);
  state.meta = meta;
  setDirectory({ users: [meta.bot, ...meta.users], groups: meta.userGroups, emoji });
  const picker = $('user');
  picker.innerHTML = state.meta.users.map((u) => `<option value="${esc(u.id)}">${esc(u.realName || u.name)} (@${esc(u.name)})</option>`).join('');
  if (session.exposed) {
    // Signed in as one person: the picker shows who, and cannot change it.
    state.user = session.user;
    picker.disabled = true;
  } else if (!state.meta.users.some((u) => u.id === state.user)) {
    state.user = state.meta.users[0].id;
  }
  picker.value = state.user;
  picker.addEventListener('change', () => switchUser(picker.value));
  $('command-hints').innerHTML = state.meta.commands.flatMap((c) => [c.command, ...c.subcommands.map((s) => `${c.command} ${s.usage || s.name}`)])
    .map((h) => `<option value="${esc(h)}">`).join('');
  $('composer').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = $('command').value.trim();
    if (text) void send(text);
  });
  document.body.addEventListener('click', (ev) => {
    const t = ev.target.closest('button[data-action]');
    if (t) return void act(t);
    const link = ev.target.closest('a[data-channel-link], a[data-user-id]');
    if (link) {
      ev.preventDefault();
      const id = link.dataset.channelLink;
      if (id && [...state.channels.values()].some((c) => c.id === id || c.name === id)) showChannel(id);
      return;
    }
    const ch = ev.target.closest('button[data-channel-id]');
    if (ch) showChannel(ch.dataset.channelId);
  });
  document.body.addEventListener('change', (ev) => {
    const t = ev.target.closest('select[data-action]');
    if (t && t.value) void act(t, t.value);
  });
  $('modal').addEventListener('submit', submitModal);
  $('modal-close').addEventListener('click', () => void closeModal());
  switchUser(state.user);
  void pollLoop();
}

start().catch((e) => status(`Console failed to load: ${e.message}`));
