// SPDX-License-Identifier: Apache-2.0
// /targets: where the user may go and how (the shell's `targets`), and a
// request form (the shell's `request`).
import { api, el, start, table, flash, fmtTime, fmtDuration } from '/static/app.js';

function how(a) {
  switch (a.how) {
    case 'standing': return 'standing via rule ' + a.rule;
    case 'grant': return 'grant ' + a.grant + ' as ' + a.login + ' until ' + fmtTime(a.ends_at);
    case 'requestable': return 'requestable via rule ' + a.rule + ' (up to ' +
      fmtDuration(a.max_duration) + ', ' + a.approvals + ' approval(s))';
    case 'breakglass': return 'break-glass up to ' + fmtDuration(a.max_duration);
    default: return a.how;
  }
}

function requestForm(targets) {
  const requestable = targets.filter((t) => t.access.some((a) => a.how === 'requestable'));
  if (requestable.length === 0) {
    return el('p', { class: 'muted' }, 'There is no target you may request.');
  }
  const target = el('select', { name: 'target', id: 'req-target', 'aria-label': 'target' },
    ...requestable.map((t) => el('option', { value: t.name }, t.name)));
  const duration = el('input', { name: 'duration', id: 'req-duration', value: '1h', required: true, 'aria-label': 'duration', size: 6 });
  const reason = el('input', { name: 'reason', id: 'req-reason', required: true, placeholder: 'reason', 'aria-label': 'reason', size: 40 });
  const ticket = el('input', { name: 'ticket', id: 'req-ticket', placeholder: 'ticket (optional)', 'aria-label': 'ticket' });
  const button = el('button', { type: 'submit', class: 'action', id: 'req-submit' }, 'Request');
  const form = el('form', { class: 'inline', id: 'request-form' }, target, duration, reason, ticket, button);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    button.disabled = true;
    try {
      const body = { target: target.value, duration: duration.value, reason: reason.value };
      if (ticket.value) {
        body.ticket = ticket.value;
      }
      const r = await api('POST', 'requests', body);
      flash('request ' + r.id + ' ' + r.status + ': needs ' + r.approvals_needed +
        ' approval(s) from ' + r.approvers.join(', '), 'info');
      reason.value = '';
      ticket.value = '';
    } catch (e) {
      flash(e.message, 'error');
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

start(async () => {
  const targets = await api('GET', 'targets');
  const content = document.getElementById('content');
  content.append(
    el('h2', {}, 'Ask for access'), requestForm(targets),
    el('h2', {}, 'Targets you may reach or request'),
    table(['Target', 'Labels', 'Logins', 'Access'], targets.map((t) => [
      el('strong', {}, t.name) ,
      Object.entries(t.labels || {}).map(([k, v]) => k + '=' + v).join(' ') + (t.protected ? ' (protected)' : ''),
      (t.logins || []).join(', '),
      el('ul', {}, ...t.access.map((a) => el('li', {}, how(a)))),
    ])));
});
