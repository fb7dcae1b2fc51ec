// SPDX-License-Identifier: Apache-2.0
// The two login pages: the one-time link's button and the password form.
// Every response of the console says Referrer-Policy: no-referrer, under
// which a browser sends "Origin: null" with a plain form POST; the console
// only takes POSTs whose Origin is its own, so the form is sent by fetch
// with the request's own referrer policy "same-origin" (a referrer, with a
// link's token in it, can then only ever go to the console itself).

const form = document.querySelector('form');
const msg = document.getElementById('message');

form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const button = form.querySelector('button');
  button.disabled = true;
  msg.textContent = '';
  try {
    const res = await fetch(form.getAttribute('action') || window.location.pathname, {
      method: 'POST',
      body: new URLSearchParams(new FormData(form)),
      credentials: 'same-origin',
      referrerPolicy: 'same-origin',
      redirect: 'follow',
    });
    if (res.ok && res.redirected) {
      window.location.replace(res.url);
      return;
    }
    msg.textContent = (await res.text()).trim() || res.statusText;
  } catch (e) {
    msg.textContent = e.message;
  } finally {
    button.disabled = false;
  }
});
