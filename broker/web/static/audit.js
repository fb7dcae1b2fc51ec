// SPDX-License-Identifier: Apache-2.0
// /audit: the latest rows of the audit chain (the shell's `audit`).
import { api, el, start, table, fmtTime } from '/static/app.js';

start(async () => {
  const rows = await api('GET', 'audit?limit=200');
  document.getElementById('content').append(table(['#', 'Time', 'Actor', 'Event', 'Object', 'Details'],
    rows.reverse().map((r) => [String(r.seq), fmtTime(r.time), r.actor, r.event, r.object || '',
      el('code', {}, JSON.stringify(r.details))])));
});
