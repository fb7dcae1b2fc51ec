// SPDX-License-Identifier: Apache-2.0
// What every page shares: the API wrapper (CSRF header, {"error": ...} made a
// message), element helpers that only ever set text (never HTML), times in
// the viewer's own time zone, and the navigation bar.

let me = null;

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// One fetch wrapper for the whole console.
export async function api(method, path, body) {
  // same-origin: under the console's no-referrer policy a POST would carry "Origin: null"
  const opts = { method, credentials: 'same-origin', referrerPolicy: 'same-origin', headers: {} };
  if (method !== 'GET') {
    if (me === null) {
      await whoami();
    }
    opts.headers['X-CSRF-Token'] = me.csrf_token;
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body || {});
  }
  const res = await fetch('/api/v1/' + path, opts);
  if (res.status === 401) {
    window.location.assign('/login');
    throw new ApiError(401, 'not logged in');
  }
  let data = null;
  try {
    data = await res.json();
  } catch (e) {
    throw new ApiError(res.status, res.statusText || 'bad answer');
  }
  if (!res.ok) {
    throw new ApiError(res.status, (data && data.error) || res.statusText);
  }
  return data;
}

export async function whoami() {
  if (me === null) {
    me = await api('GET', 'whoami');
  }
  return me;
}

export function isReviewer() {
  return me !== null && me.roles.includes('reviewer');
}

// el('a', {href: '/x', class: 'y'}, 'text', child...): text is always text.
export function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) {
      continue;
    }
    if (k === 'class') {
      e.className = v;
    } else if (k === 'onclick' || k === 'onsubmit' || k === 'onchange') {
      e.addEventListener(k.slice(2), v);
    } else {
      e.setAttribute(k, v === true ? '' : String(v));
    }
  }
  for (const c of children) {
    if (c === null || c === undefined) {
      continue;
    }
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

export function clear(node) {
  while (node.firstChild) {
    node.removeChild(node.firstChild);
  }
  return node;
}

const zoneFmt = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: '2-digit', day: '2-digit',
  hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: 'short',
});

// Unix seconds as an absolute time in the viewer's zone ("-" for none).
export function fmtTime(t) {
  if (t === null || t === undefined || t === 0) {
    return '-';
  }
  return zoneFmt.format(new Date(t * 1000));
}

export function fmtDuration(s) {
  if (s === null || s === undefined) {
    return '-';
  }
  s = Math.round(s);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  return (h ? h + 'h' : '') + (h || m ? m + 'm' : '') + sec + 's';
}

export function fmtOffset(t) {
  const s = Math.floor(t);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const pad = (n) => String(n).padStart(2, '0');
  return pad(h) + ':' + pad(m) + ':' + pad(sec);
}

export function table(headers, rows) {
  const thead = el('thead', {}, el('tr', {}, ...headers.map((h) => el('th', {}, h))));
  const tbody = el('tbody', {}, ...rows.map((r) => el('tr', {}, ...r.map((c) => el('td', {}, c)))));
  return el('table', {}, thead, tbody);
}

export function flash(message, kind) {
  const box = document.getElementById('flash');
  clear(box);
  if (message) {
    box.append(el('p', { class: kind === 'error' ? 'error' : 'info', role: 'status' }, message));
  }
}

// A small form: fields [{name, label, required, type}] and a button; onsubmit gets the values.
export function actionForm(label, fields, onsubmit) {
  const inputs = fields.map((f) => el('input', {
    name: f.name, type: f.type || 'text', required: f.required, placeholder: f.label,
    'aria-label': f.label, value: f.value,
  }));
  const button = el('button', { type: 'submit', class: 'action' }, label);
  const form = el('form', { class: 'inline' }, ...inputs, button);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const values = {};
    for (const i of inputs) {
      values[i.name] = i.value;
    }
    button.disabled = true;
    try {
      await onsubmit(values);
    } catch (e) {
      flash(e.message, 'error');
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

function nav(who) {
  const links = [['/targets', 'Targets'], ['/requests', 'Requests'], ['/grants', 'Grants']];
  if (who.roles.includes('reviewer')) {
    links.push(['/sessions', 'Sessions'], ['/reviews', 'Reviews'], ['/search', 'Search'],
      ['/audit', 'Audit']);
  }
  const here = window.location.pathname;
  const out = el('button', { type: 'button', class: 'link', id: 'logout' }, 'Log out');
  out.addEventListener('click', async () => {
    try {
      await api('POST', 'logout');
    } finally {
      window.location.assign('/login');
    }
  });
  const roles = who.roles.length ? ' (' + who.roles.join(', ') + ')' : '';
  return el('nav', {},
    el('span', { class: 'brand' }, 'Drawbridge'),
    ...links.map(([href, text]) => el('a', {
      href, 'aria-current': here === href || here.startsWith(href + '/') ? 'page' : null,
    }, text)),
    el('span', { class: 'who', id: 'who' }, who.user + roles),
    out);
}

// Every page's start: who is asking, the navigation, then the page's own code.
export async function start(page) {
  try {
    const who = await whoami();
    document.getElementById('top').append(nav(who));
    await page(who);
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) {
      flash(e.message, 'error');
    }
  }
}
