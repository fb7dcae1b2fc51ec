// SPDX-License-Identifier: Apache-2.0
// /sessions/ID/watch: a live session as it happens (the shell's `watch`,
// as server-sent events), with Terminate.
import { api, el, start, flash, fmtTime, actionForm } from '/static/app.js';

const id = window.location.pathname.split('/')[2];

start(async () => {
  const content = document.getElementById('content');
  document.getElementById('title').textContent = 'Live session ' + id;
  const s = await api('GET', 'sessions/' + encodeURIComponent(id));
  const box = el('div', { id: 'player' });
  content.append(el('p', { id: 'label' }, s.label + ' \u00b7 started ' + fmtTime(s.started_at)), box,
    actionForm('Terminate', [{ name: 'reason', label: 'reason', required: true }], async (v) => {
      flash((await api('POST', 'sessions/' + id + '/terminate', { reason: v.reason })).result, 'info');
    }),
    el('p', {}, el('a', { href: '/sessions/' + id }, 'the recording so far')));
  window.AsciinemaPlayer.create({ driver: 'eventsource', url: '/api/v1/sessions/' + encodeURIComponent(id) + '/live' },
    box, { fit: 'width', autoPlay: true, controls: true });
});
