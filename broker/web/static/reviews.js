// SPDX-License-Identifier: Apache-2.0
// /reviews: sessions waiting for a review (the shell's `reviews --pending`).
import { api, el, start, table, fmtTime, fmtDuration } from '/static/app.js';

start(async () => {
  const content = document.getElementById('content');
  const s = await api('GET', 'reviews');
  content.append(s.length === 0 ? el('p', { class: 'muted' }, 'Nothing waits for a review.') : table(
    ['Session', 'User', 'Target', 'Started', 'Duration', 'Break-glass'],
    s.map((x) => [el('a', { href: '/sessions/' + x.id }, x.id), x.user, x.target, fmtTime(x.started_at),
      x.live ? 'live' : fmtDuration(x.duration), x.breakglass ? 'yes' : 'no'])));
});
