// The local console page: polls /console/api/state and renders channels, messages (Block Kit)
// and modals; sends commands, button presses and form submissions back. No framework: the
// page must work offline on a fresh machine with nothing but Firebreak running.
const $ = (id) => document.getElementById(id);
const api = async (method, path, body) => {
  const res = await fetch(path, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  let data = {};
  try { data = await res.json(); } catch { /* empty body */ }
  if (!res.ok) throw new Error(data.detail || data.error || `HTTP ${res.status}`);
  return data;
};

const state = {
  meta: null,
  user: localStorage.getItem('firebreak.user') || '',
  channel: localStorage.getItem('firebreak.channel') || 'incidents',
  cursor: 0,
  channels: new Map(), // id -> channel
  messages: new Map(), // channel id -> Map(ts -> message)
  unread: new Map(),
  modal: null,
  modalId: null,
  generation: 0,
};

function status(text) { $('status').textContent = text || ''; }

function esc(s) {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

function userName(id) {
  const u = [state.meta?.bot, ...(state.meta?.users ?? [])].find((x) => x && x.id === id);
  return u ? u.name : id;
}

/** Slack mrkdwn to safe HTML: escape first, then the few forms Firebreak uses. */
function mrkdwn(text) {
  let h = esc(text);
  h = h.replace(/&lt;(https?:\/\/[^|&]+?)\|([^&]+?)&gt;/g, (_, url, label) => `<a href="${url}" target="_blank" rel="noopener">${label}</a>`);
  h = h.replace(/&lt;(https?:\/\/[^&]+?)&gt;/g, (_, url) => `<a href="${url}" target="_blank" rel="noopener">${url}</a>`);
  h = h.replace(/&lt;#([A-Z0-9]+)(?:\|([^&]*))?&gt;/g, (_, id, name) => `<b>#${esc(name || state.channels.get(id)?.name || id)}</b>`);
  h = h.replace(/&lt;@([A-Z0-9]+)&gt;/g, (_, id) => `<b>@${esc(userName(id))}</b>`);
  h = h.replace(/&lt;!subteam\^([A-Z0-9]+)(?:\|([^&]*))?&gt;/g, (_, id, name) => `<b>${esc(name || '@' + (state.meta?.userGroups.find((g) => g.id === id)?.handle ?? id))}</b>`);
  h = h.replace(/&lt;!(here|channel)&gt;/g, '<b>@$1</b>');
  h = h.replace(/```([\s\S]*?)```/g, '<pre>$1</pre>');
  h = h.replace(/`([^`\n]+)`/g, '<code>$1</code>');
  h = h.replace(/(^|[\s(])\*([^*\n]+)\*/g, '$1<b>$2</b>');
  h = h.replace(/(^|[\s(])_([^_\n]+)_/g, '$1<i>$2</i>');
  h = h.replace(/(^|[\s(])~([^~\n]+)~/g, '$1<s>$2</s>');
  return emojify(h);
}

// The emoji Firebreak's templates use; anything else stays as its :name:.
const EMOJI = {
  warning: '⚠️', rotating_light: '🚨', white_check_mark: '✅', heavy_check_mark: '✔️', x: '❌', pushpin: '📌', floppy_disk: '💾',
  fire: '🔥', hourglass: '⌛', hourglass_flowing_sand: '⏳', bell: '🔔', no_bell: '🔕', large_green_circle: '🟢', red_circle: '🔴',
  large_yellow_circle: '🟡', pager: '📟', lock: '🔒', unlock: '🔓', memo: '📝', clipboard: '📋', mag: '🔍', broom: '🧹',
  stopwatch: '⏱️', arrow_up: '⬆️', arrow_down: '⬇️', information_source: 'ℹ️', bangbang: '‼️', ballot_box_with_check: '☑️',
  hammer_and_wrench: '🛠️', rocket: '🚀', shield: '🛡️', construction: '🚧', zzz: '💤', repeat: '🔁', book: '📖', busts_in_silhouette: '👥',
  speech_balloon: '💬', siren: '🚨', green_heart: '💚', thumbsup: '👍', no_entry: '⛔', heavy_plus_sign: '➕', link: '🔗', test_tube: '🧪',
};
const emojify = (h) => h.replace(/:([a-z0-9_+-]+):/g, (m, name) => EMOJI[name] ?? m);

const textOf = (t) => (!t ? '' : t.type === 'mrkdwn' ? mrkdwn(t.text) : esc(t.text));

function buttonHtml(el, msg) {
  const label = esc(el.text?.text ?? el.action_id);
  if (el.url) return `<a class="link-button" href="${esc(el.url)}" target="_blank" rel="noopener">${label}</a>`;
  return `<button type="button" class="${esc(el.style || '')}" data-action="${esc(el.action_id)}" data-ts="${esc(msg.ts)}" data-channel="${esc(msg.channel)}">${label}</button>`;
}

function selectHtml(el, msg) {
  const opts = (el.options ?? []).map((o) => `<option value="${esc(o.value)}">${esc(o.text?.text)}</option>`).join('');
  return `<select data-action="${esc(el.action_id)}" data-ts="${esc(msg.ts)}" data-channel="${esc(msg.channel)}"><option value="">${esc(el.placeholder?.text ?? 'Choose…')}</option>${opts}</select>`;
}

function blockHtml(b, msg) {
  switch (b.type) {
    case 'header': return `<div class="block-header">${esc(b.text?.text)}</div>`;
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
    case 'rich_text': return `<div class="block-section">${esc(msg.text)}</div>`;
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

function renderSidebar() {
  const cur = currentChannel();
  const item = (c, label) => {
    const n = state.unread.get(c.id) ?? 0;
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
  state.unread.set(cur.id, 0);
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
  if (atBottom) box.scrollTop = box.scrollHeight;
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
    const label = `<label for="${esc(id)}">${esc(b.label?.text)}${b.optional ? ' <span class="optional">(optional)</span>' : ''}</label>`;
    const attrs = `id="${esc(id)}" name="${esc(b.block_id)}" data-testid="field-${esc(b.block_id)}"`;
    let input;
    if (el.type === 'static_select' || el.type === 'radio_buttons') {
      const init = el.initial_option?.value;
      input = `<select ${attrs}><option value="">${esc(el.placeholder?.text ?? 'Choose…')}</option>${(el.options ?? []).map((o) => `<option value="${esc(o.value)}"${o.value === init ? ' selected' : ''}>${esc(o.text?.text)}</option>`).join('')}</select>`;
    } else if (el.type === 'users_select') {
      input = `<select ${attrs}><option value="">Choose a person…</option>${state.meta.users.map((u) => `<option value="${esc(u.id)}"${u.id === el.initial_user ? ' selected' : ''}>${esc(u.name)}</option>`).join('')}</select>`;
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
  const cur = currentChannel();
  for (const m of s.messages) {
    const map = state.messages.get(m.channel) ?? state.messages.set(m.channel, new Map()).get(m.channel);
    const isNew = !map.has(m.ts);
    map.set(m.ts, m);
    if (isNew && state.cursor > 0 && (!cur || cur.id !== m.channel)) state.unread.set(m.channel, (state.unread.get(m.channel) ?? 0) + 1);
  }
  state.cursor = s.cursor;
  state.modal = s.modal;
  renderSidebar();
  renderMessages();
  renderModal();
}

async function poll() {
  const generation = state.generation;
  try {
    const s = await api('GET', `/console/api/state?user=${encodeURIComponent(state.user)}&since=${state.cursor}`);
    applyState(s, generation);
  } catch (e) {
    status(`Cannot reach Firebreak: ${e.message}`);
  }
}

let pollTimer;
function schedulePoll(delay = 1000) {
  clearTimeout(pollTimer);
  pollTimer = setTimeout(async () => { await poll(); schedulePoll(); }, delay);
}
const refresh = () => schedulePoll(0);

function switchUser(id) {
  state.user = id;
  localStorage.setItem('firebreak.user', id);
  state.generation++;
  state.cursor = 0;
  state.channels.clear();
  state.messages.clear();
  state.unread.clear();
  state.modal = null;
  state.modalId = null;
  refresh();
}

async function send(text) {
  const cur = currentChannel();
  if (!cur) return status('Pick a channel first');
  status('');
  try {
    await api('POST', '/console/api/command', { user: state.user, channel: cur.id, text });
    $('command').value = '';
  } catch (e) {
    status(e.message);
  }
  refresh();
}

async function act(el, value) {
  status('');
  try {
    await api('POST', '/console/api/action', { user: state.user, channel: el.dataset.channel, messageTs: el.dataset.ts, actionId: el.dataset.action, value });
  } catch (e) {
    status(e.message);
  }
  refresh();
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
    state.modal = null;
    state.modalId = null;
    renderModal();
  } catch (e) {
    status(e.message);
  }
  refresh();
}

async function closeModal() {
  const m = state.modal;
  state.modal = null;
  renderModal();
  if (m) await api('POST', '/console/api/view/close', { user: state.user, modalId: m.id }).catch((e) => status(e.message));
  refresh();
}

async function start() {
  state.meta = await api('GET', '/console/api/meta');
  const picker = $('user');
  picker.innerHTML = state.meta.users.map((u) => `<option value="${esc(u.id)}">${esc(u.realName || u.name)} (@${esc(u.name)})</option>`).join('');
  if (!state.meta.users.some((u) => u.id === state.user)) state.user = state.meta.users[0].id;
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
    const ch = ev.target.closest('button[data-channel-id]');
    if (ch) {
      state.channel = ch.dataset.channelId;
      localStorage.setItem('firebreak.channel', state.channel);
      renderSidebar();
      renderMessages();
    }
  });
  document.body.addEventListener('change', (ev) => {
    const t = ev.target.closest('select[data-action]');
    if (t && t.value) void act(t, t.value);
  });
  $('modal').addEventListener('submit', submitModal);
  $('modal-close').addEventListener('click', () => void closeModal());
  switchUser(state.user);
}

start().catch((e) => status(`Console failed to load: ${e.message}`));
