// SPDX-License-Identifier: Apache-2.0
// /sessions/ID: the recording in asciinema-player (a sanitised cast, the
// shell's `replay` checks), with a speed from 0.5x to 4x, an idle limit,
// the markers, the transcript beside it (each line a link to its moment),
// a link to the current moment (?t=SECONDS), and Terminate or Review.
import { api, el, start, flash, fmtTime, fmtDuration, fmtOffset, actionForm, clear } from '/static/app.js';

const id = window.location.pathname.split('/')[2];
const castUrl = '/api/v1/sessions/' + encodeURIComponent(id) + '/cast';
let player = null;
let lines = [];

const tenths = (t) => String(Math.floor(t * 10) / 10);

function create(at, opts) {
  const box = document.getElementById('player');
  if (player) {
    player.dispose();
  }
  clear(box);
  player = window.AsciinemaPlayer.create(castUrl, box, {
    startAt: at, speed: opts.speed, idleTimeLimit: opts.idle || undefined,
    fit: 'width', autoPlay: at > 0, preload: true, controls: true,
  });
  player.addEventListener('marker', (e) => flash('marker: ' + (e.label || ''), 'info'));
}

// The line being shown: the last one at or before now (links round times down to a tenth).
function highlight(now) {
  let best = null;
  for (const l of lines) {
    if (l.time <= now + 0.1) best = l;
  }
  for (const l of lines) {
    l.node.classList.toggle('now', l === best);
  }
}

start(async () => {
  const content = document.getElementById('content');
  document.getElementById('title').textContent = 'Session ' + id;
  const s = await api('GET', 'sessions/' + encodeURIComponent(id));
  const t0 = Number(new URLSearchParams(window.location.search).get('t')) || 0;
  const opts = { speed: 1, idle: 0 };
  const speed = el('select', { id: 'speed', 'aria-label': 'speed' },
    ...[0.5, 1, 1.5, 2, 4].map((v) => el('option', { value: v, selected: v === 1 }, v + '\u00d7')));
  const idle = el('select', { id: 'idle', 'aria-label': 'idle limit' },
    ...[[0, 'no idle limit'], [1, 'idle limit 1 s'], [2, 'idle limit 2 s'], [5, 'idle limit 5 s']]
      .map(([v, t]) => el('option', { value: v }, t)));
  const link = el('a', { href: '?t=' + tenths(t0), id: 'moment' }, 'link to this moment');
  const transcript = el('div', { class: 'transcript', id: 'transcript' });
  content.append(
    el('p', { id: 'label' }, s.label + ' \u00b7 ' + s.kind + (s.command ? ' \u00b7 ' + s.command : '') +
      ' \u00b7 started ' + fmtTime(s.started_at) + ' \u00b7 ' + (s.live ? 'live' : 'lasted ' + fmtDuration(s.duration))),
    el('div', { class: 'controls' }, speed, idle, link,
      s.live ? el('a', { href: '/sessions/' + id + '/watch' }, 'watch live') : null),
    el('div', { class: 'split' }, el('div', { id: 'player' }), transcript));
  const restart = () => create(player ? player.getCurrentTime() : t0, opts);
  speed.addEventListener('change', () => { opts.speed = Number(speed.value); restart(); });
  idle.addEventListener('change', () => { opts.idle = Number(idle.value); restart(); });
  create(t0, opts);
  window.setInterval(() => {
    if (player) {
      const now = player.getCurrentTime() || 0;
      link.setAttribute('href', '?t=' + tenths(now));
      highlight(now);
    }
  }, 500);
  try {
    const text = await api('GET', 'sessions/' + encodeURIComponent(id) + '/transcript');
    lines = text.map((l) => {
      const node = el('div', { class: l.stream },
        el('a', { href: '?t=' + tenths(l.time), title: 'play from here' }, fmtOffset(l.time)), l.line);
      node.firstChild.addEventListener('click', (ev) => {
        ev.preventDefault();
        if (player) {
          player.seek(l.time);
          player.play();
        }
      });
      transcript.append(node);
      return { time: l.time, node };
    });
    if (lines.length === 0) {
      transcript.append(el('p', { class: 'muted' }, 'No text in this recording.'));
    }
    highlight(t0);
  } catch (e) {
    transcript.append(el('p', { class: 'error' }, e.message));
  }
  if (s.live) {
    content.append(actionForm('Terminate', [{ name: 'reason', label: 'reason', required: true }], async (v) => {
      flash((await api('POST', 'sessions/' + id + '/terminate', { reason: v.reason })).result, 'info');
    }));
  } else if (s.review !== 'reviewed') {
    content.append(actionForm('Review', [{ name: 'note', label: 'note', required: true }], async (v) => {
      flash((await api('POST', 'sessions/' + id + '/review', { note: v.note })).result, 'info');
    }));
  } else {
    content.append(el('p', {}, 'Reviewed by ' + s.reviewed_by + ' on ' + fmtTime(s.reviewed_at) + ': ' + (s.review_note || '')));
  }
});
