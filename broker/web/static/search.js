// SPDX-License-Identifier: Apache-2.0
// /search?q=TEXT: the shell's `search`; each hit opens the player at its moment.
import { api, el, start, fmtOffset, clear } from '/static/app.js';

start(async () => {
  const content = document.getElementById('content');
  const q = new URLSearchParams(window.location.search).get('q') || '';
  const input = el('input', { name: 'q', id: 'q', value: q, size: 40, required: true, 'aria-label': 'text to find' });
  const results = el('div', { id: 'results' });
  content.append(el('form', { class: 'inline', method: 'get', action: '/search' }, input,
    el('button', { type: 'submit', class: 'action' }, 'Search')), results);
  if (q === '') {
    return;
  }
  const hits = await api('GET', 'search?q=' + encodeURIComponent(q));
  clear(results);
  if (hits.length === 0) {
    results.append(el('p', { class: 'muted' }, 'No session showed or typed that.'));
    return;
  }
  results.append(el('ul', { class: 'hits' }, ...hits.map((h) => el('li', {},
    el('a', { href: '/sessions/' + h.session + '?t=' + Math.floor(h.time * 10) / 10, class: 'hit-link' },
      h.session + ' at ' + fmtOffset(h.time)), ' ', el('span', { class: 'muted' }, h.stream === 'i' ? 'typed' : 'shown'), ' ',
    el('span', { class: 'hit' }, h.line)))));
});
