// SPDX-License-Identifier: Apache-2.0
// /requests/N: one request (the shell's `show N`): its decisions, its grant
// and, for reviewers, the sessions that used the grant.
import { api, el, start, table, flash, fmtTime, fmtDuration, isReviewer, actionForm, clear } from '/static/app.js';

const id = window.location.pathname.split('/')[2];

start(async () => {
  const content = document.getElementById('content');
  document.getElementById('title').textContent = 'Request ' + id;
  const load = async () => {
    const doc = await api('GET', 'requests/' + encodeURIComponent(id));
    const r = doc.request, g = doc.grant;
    clear(content).append(el('div', { class: 'card' }, el('dl', {},
      el('dt', {}, 'Status'), el('dd', { id: 'status' }, r.status),
      el('dt', {}, 'Requester'), el('dd', {}, r.requester),
      el('dt', {}, 'Target'), el('dd', {}, r.target + ' as ' + r.login),
      el('dt', {}, 'Reason'), el('dd', {}, r.reason),
      el('dt', {}, 'Ticket'), el('dd', {}, r.ticket || '-'),
      el('dt', {}, 'For'), el('dd', {}, fmtDuration(r.duration)),
      el('dt', {}, 'Rule'), el('dd', {}, r.rule || 'break-glass'),
      el('dt', {}, 'Approvals'), el('dd', {}, r.approvals + ' of ' + r.approvals_needed),
      el('dt', {}, 'Asked'), el('dd', {}, fmtTime(r.created_at)),
      el('dt', {}, 'Decided'), el('dd', {}, r.decided_by ? fmtTime(r.decided_at) + ' by ' + r.decided_by : '-'))));
    if (r.status === 'pending') {
      content.append(
        actionForm('Approve', [{ name: 'comment', label: 'comment (optional)' }], async (v) => {
          flash((await api('POST', 'requests/' + id + '/approve', v.comment ? { comment: v.comment } : {})).result, 'info');
          await load();
        }),
        actionForm('Deny', [{ name: 'reason', label: 'reason', required: true }], async (v) => {
          flash((await api('POST', 'requests/' + id + '/deny', { reason: v.reason })).result, 'info');
          await load();
        }));
    }
    content.append(el('h2', {}, 'Decisions'), doc.decisions.length === 0 ? el('p', { class: 'muted' }, 'None yet.')
      : table(['Who', 'Decision', 'Comment', 'When'], doc.decisions.map((d) => [d.approver, d.decision, d.comment || '', fmtTime(d.at)])));
    content.append(el('h2', {}, 'Grant'));
    if (!g) {
      content.append(el('p', { class: 'muted' }, 'No grant.'));
      return;
    }
    content.append(el('div', { class: 'card' }, el('dl', {},
      el('dt', {}, 'Status'), el('dd', { id: 'grant-status' }, g.status),
      el('dt', {}, 'From'), el('dd', {}, fmtTime(g.starts_at)),
      el('dt', {}, 'Until'), el('dd', {}, fmtTime(g.ends_at)),
      el('dt', {}, 'Revoked'), el('dd', {}, g.revoked_by ? fmtTime(g.revoked_at) + ' by ' + g.revoked_by + ': ' + g.revoke_reason : '-'))));
    if (g.status === 'active') {
      content.append(actionForm('Revoke', [{ name: 'reason', label: 'reason', required: true }], async (v) => {
        flash((await api('POST', 'grants/' + id + '/revoke', { reason: v.reason })).result, 'info');
        await load();
      }));
    }
    if (isReviewer()) {
      const s = await api('GET', 'sessions?grant=' + id + '&user=' + encodeURIComponent(g.user) + '&target=' + encodeURIComponent(g.target));
      content.append(el('h2', {}, 'Sessions that used this grant'), s.length === 0 ? el('p', { class: 'muted' }, 'None.')
        : table(['Session', 'Kind', 'Started', 'Duration', 'Command'], s.map((x) => [
          el('a', { href: '/sessions/' + x.id }, x.id), x.kind, fmtTime(x.started_at), x.live ? 'live' : fmtDuration(x.duration), x.command || ''])));
    }
  };
  await load();
});
