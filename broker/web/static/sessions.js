// SPDX-License-Identifier: Apache-2.0
// /sessions: recorded sessions (the shell's `sessions`), filtered by user,
// target, live and a date range; times in the viewer's time zone.
import { api, el, start, table, fmtTime, fmtDuration, clear } from '/static/app.js';

function field(name, label, type) {
  return el('label', {}, label + ' ', el('input', { name, id: 'f-' + name, type: type || 'text' }));
}

start(async () => {
  const content = document.getElementById('content');
  const params = new URLSearchParams(window.location.search);
  const form = el('form', { class: 'inline', id: 'filters' },
    field('user', 'User'), field('target', 'Target'),
    el('label', {}, el('input', { type: 'checkbox', name: 'live', id: 'f-live' }), ' live only'),
    field('from', 'From', 'datetime-local'), field('to', 'To', 'datetime-local'),
    el('button', { type: 'submit', class: 'action' }, 'Filter'));
  const list = el('div', { id: 'list' });
  content.append(form, list);
  for (const k of ['user', 'target', 'from', 'to']) {
    form.elements[k].value = params.get(k) || '';
  }
  form.elements.live.checked = params.get('live') === '1';
  const load = async () => {
    const q = new URLSearchParams();
    const f = form.elements;
    if (f.user.value) q.set('user', f.user.value);
    if (f.target.value) q.set('target', f.target.value);
    if (f.live.checked) q.set('live', '1');
    // datetime-local is the viewer's own local time; the API takes unix seconds
    if (f.from.value) q.set('since', String(Math.floor(new Date(f.from.value).getTime() / 1000)));
    if (f.to.value) q.set('until', String(Math.floor(new Date(f.to.value).getTime() / 1000)));
    const s = await api('GET', 'sessions?' + q.toString());
    clear(list).append(s.length === 0 ? el('p', { class: 'muted' }, 'No sessions.') : table(
      ['Session', 'User', 'Target', 'Kind', 'Started', 'Duration', 'Exit', 'Review', 'Command'],
      s.map((x) => [
        el('span', {}, el('a', { href: '/sessions/' + x.id, class: 'session' }, x.id),
          x.live ? el('span', {}, ' ', el('a', { href: '/sessions/' + x.id + '/watch', class: 'watch' }, 'watch')) : null),
        x.user, x.target ? x.target + ' (' + x.login + ')' : 'gateway shell', x.kind,
        fmtTime(x.started_at), x.live ? 'live' : fmtDuration(x.duration),
        x.exit_status === null ? '-' : String(x.exit_status),
        x.review === 'reviewed' ? 'reviewed by ' + x.reviewed_by : x.review, x.command || ''])));
  };
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const keep = new URLSearchParams();
    for (const k of ['user', 'target', 'from', 'to']) {
      if (form.elements[k].value) keep.set(k, form.elements[k].value);
    }
    if (form.elements.live.checked) keep.set('live', '1');
    window.history.replaceState(null, '', '/sessions' + (keep.toString() ? '?' + keep : ''));
    await load();
  });
  await load();
});
