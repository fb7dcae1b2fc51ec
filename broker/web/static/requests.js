// SPDX-License-Identifier: Apache-2.0
// /requests: the pending queue (the shell's `requests --pending`) with
// Approve and Deny, each request's reason and ticket, and -- for reviewers,
// who may list sessions -- the recent sessions on its target.
import { api, el, start, table, flash, fmtTime, fmtDuration, isReviewer, actionForm, clear } from '/static/app.js';

async function recentSessions(target) {
  if (!isReviewer()) {
    return null;
  }
  try {
    const s = await api('GET', 'sessions?limit=5&target=' + encodeURIComponent(target));
    if (s.length === 0) {
      return el('p', { class: 'muted' }, 'No sessions on ' + target + ' yet.');
    }
    return table(['Session', 'User', 'Started', 'Duration'], s.map((x) => [
      el('a', { href: '/sessions/' + x.id }, x.id), x.user, fmtTime(x.started_at),
      x.live ? 'live' : fmtDuration(x.duration)]));
  } catch (e) {
    return el('p', { class: 'muted' }, e.message);
  }
}

async function card(r, reload) {
  const body = el('div', { class: 'card', id: 'request-' + r.id },
    el('h2', {}, el('a', { href: '/requests/' + r.id }, 'Request ' + r.id), ' ',
      r.requester + ' \u2192 ' + r.target + ' as ' + r.login),
    el('dl', {},
      el('dt', {}, 'Reason'), el('dd', { class: 'reason' }, r.reason),
      el('dt', {}, 'Ticket'), el('dd', {}, r.ticket || '-'),
      el('dt', {}, 'For'), el('dd', {}, fmtDuration(r.duration)),
      el('dt', {}, 'Rule'), el('dd', {}, r.rule || 'break-glass'),
      el('dt', {}, 'Approvals'), el('dd', {}, r.approvals + ' of ' + r.approvals_needed + ' (' + r.approvers.join(', ') + ')'),
      el('dt', {}, 'Asked'), el('dd', {}, fmtTime(r.created_at)),
      el('dt', {}, 'Expires'), el('dd', {}, fmtTime(r.expires_at))),
    actionForm('Approve', [{ name: 'comment', label: 'comment (optional)' }], async (v) => {
      const res = await api('POST', 'requests/' + r.id + '/approve', v.comment ? { comment: v.comment } : {});
      flash(res.result, 'info');
      await reload();
    }),
    actionForm('Deny', [{ name: 'reason', label: 'reason', required: true }], async (v) => {
      const res = await api('POST', 'requests/' + r.id + '/deny', { reason: v.reason });
      flash(res.result, 'info');
      await reload();
    }));
  const recent = await recentSessions(r.target);
  if (recent) {
    body.append(el('h3', {}, 'Recent sessions on ' + r.target), recent);
  }
  return body;
}

start(async () => {
  const content = document.getElementById('content');
  const pending = el('div', { id: 'pending' });
  const all = el('div', { id: 'all' });
  content.append(el('h2', {}, 'Pending'), pending, el('h2', {}, 'All requests you can see'), all);
  const reload = async () => {
    const reqs = await api('GET', 'requests?pending=1');
    clear(pending);
    if (reqs.length === 0) {
      pending.append(el('p', { class: 'muted' }, 'Nothing is waiting for a decision.'));
    }
    for (const r of reqs) {
      pending.append(await card(r, reload));
    }
    const every = await api('GET', 'requests?all=1');
    clear(all).append(table(['#', 'Requester', 'Target', 'Status', 'Asked', 'Reason'], every.map((r) => [
      el('a', { href: '/requests/' + r.id }, String(r.id)), r.requester, r.target + ' (' + r.login + ')',
      r.status, fmtTime(r.created_at), r.reason])));
  };
  await reload();
});
