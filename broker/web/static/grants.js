// SPDX-License-Identifier: Apache-2.0
// /grants: active grants (the shell's `grants`), each with Revoke.
import { api, el, start, table, flash, fmtTime, actionForm, clear } from '/static/app.js';

start(async () => {
  const content = document.getElementById('content');
  const load = async () => {
    const grants = await api('GET', 'grants');
    clear(content);
    if (grants.length === 0) {
      content.append(el('p', { class: 'muted' }, 'No active grants you can see.'));
      return;
    }
    content.append(table(['#', 'User', 'Target', 'Until', 'Rule', ''], grants.map((g) => [
      el('a', { href: '/requests/' + g.id }, String(g.id)), g.user, g.target + ' (' + g.login + ')',
      fmtTime(g.ends_at), g.rule || 'break-glass',
      actionForm('Revoke', [{ name: 'reason', label: 'reason', required: true }], async (v) => {
        flash((await api('POST', 'grants/' + g.id + '/revoke', { reason: v.reason })).result, 'info');
        await load();
      })])));
  };
  await load();
});
