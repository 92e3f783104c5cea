// reposmith web interface: progressive enhancement. Every page reads without this script;
// it adds search as you type, copy buttons, and, with a token kept in sessionStorage (this
// tab only), upload with progress, removal and repo creation through the JSON API.
(() => {
  'use strict';
  const KEY = 'reposmith-token';
  const $ = (s) => document.querySelector(s);
  const $$ = (s) => Array.from(document.querySelectorAll(s));
  const token = () => { try { return sessionStorage.getItem(KEY) || ''; } catch (e) { return ''; } };
  const auth = () => ({ Authorization: 'Bearer ' + token() });
  const say = (m) => { const s = $('#status'); if (s) s.textContent = m; };
  const why = (status, text) => {
    try { const j = JSON.parse(text); return status + ' ' + j.error + ': ' + j.detail; } catch (e) { return status + ' ' + text.slice(0, 200); }
  };

  // The token: entered once per browser session.
  const tf = $('#token-form'), ts = $('#token-state');
  const showToken = () => { if (tf) { tf.hidden = !!token(); ts.hidden = !token(); } };
  if (tf) {
    tf.addEventListener('submit', (e) => {
      e.preventDefault();
      const v = $('#token').value.trim();
      if (v) { sessionStorage.setItem(KEY, v); $('#token').value = ''; say('Token set for this session'); }
      showToken();
    });
    $('#token-forget').addEventListener('click', () => { sessionStorage.removeItem(KEY); showToken(); say('Token forgotten'); });
    showToken();
  }
  const needToken = () => {
    if (token()) return true;
    say('Enter a token first'); const t = $('#token'); if (t) t.focus();
    return false;
  };
  $$('.write').forEach((el) => { el.hidden = false; });

  // Search as you type: the same page, its results swapped in.
  const form = $('#search');
  let refresh = () => location.reload();
  if (form) {
    let timer = 0, ctl = null;
    refresh = () => {
      const params = new URLSearchParams(new FormData(form));
      for (const [k, v] of Array.from(params)) if (!v) params.delete(k);
      const qs = params.toString();
      const url = form.getAttribute('action') + (qs ? '?' + qs : '');
      if (ctl) ctl.abort();
      ctl = new AbortController();
      return fetch(url, { headers: { Accept: 'text/html' }, signal: ctl.signal, credentials: 'same-origin' })
        .then((r) => r.text())
        .then((t) => {
          const fresh = new DOMParser().parseFromString(t, 'text/html').getElementById('results');
          const now = $('#results');
          if (fresh && now) { now.replaceWith(fresh); history.replaceState(null, '', url); }
        })
        .catch(() => {});
    };
    const soon = () => { clearTimeout(timer); timer = setTimeout(refresh, 150); };
    form.addEventListener('input', soon);
    form.addEventListener('change', soon);
    form.addEventListener('submit', (e) => { e.preventDefault(); refresh(); });
  }

  // Upload: drop files (or choose them); small files in one POST, big ones through an upload
  // session (a presigned storage URL where the store has one).
  const up = $('#upload');
  if (up) {
    const repo = up.dataset.repo, drop = $('#drop'), input = $('#files'), list = $('#uploads');
    const BIG = 4 * 1024 * 1024;
    const base = '/repos/' + encodeURIComponent(repo);
    const xhr = (method, url, body, withToken, bar) => new Promise((ok, bad) => {
      const x = new XMLHttpRequest();
      x.open(method, url);
      if (withToken) x.setRequestHeader('Authorization', 'Bearer ' + token());
      x.upload.onprogress = (e) => { if (e.lengthComputable) { bar.max = e.total; bar.value = e.loaded; } };
      x.onload = () => (x.status < 300 ? ok(x) : bad(new Error(why(x.status, x.responseText))));
      x.onerror = () => bad(new Error('network error'));
      x.send(body);
    });
    const one = (file) => {
      const li = document.createElement('li');
      const name = document.createElement('span');
      const bar = document.createElement('progress');
      const st = document.createElement('span');
      name.textContent = file.name;
      bar.max = file.size || 1; bar.value = 0;
      bar.setAttribute('aria-label', 'Uploading ' + file.name);
      st.textContent = 'uploading';
      li.append(name, bar, st);
      list.appendChild(li);
      let sent;
      if (file.size <= BIG) {
        sent = xhr('POST', base + '/packages/?filename=' + encodeURIComponent(file.name), file, true, bar);
      } else {
        sent = fetch(base + '/uploads/', {
          method: 'POST', headers: Object.assign({ 'Content-Type': 'application/json' }, auth()),
          body: JSON.stringify({ filename: file.name }),
        })
          .then((r) => (r.ok ? r.json() : r.text().then((t) => Promise.reject(new Error(why(r.status, t))))))
          .then((s) => xhr(s.method || 'PUT', s.url, file, !s.presigned, bar).then(() => s))
          .then((s) => fetch(s.commit, { method: 'POST', headers: auth() }))
          .then((r) => (r.ok ? r : r.text().then((t) => Promise.reject(new Error(why(r.status, t))))));
      }
      sent.then(() => {
        bar.value = bar.max; st.textContent = 'published'; st.className = 'ok';
        say(file.name + ' published'); refresh();
      }, (e) => { st.textContent = e.message; st.className = 'error'; say(file.name + ': ' + e.message); });
    };
    const send = (files) => { if (needToken()) Array.from(files).forEach(one); };
    drop.addEventListener('click', () => input.click());
    drop.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); input.click(); } });
    ['dragenter', 'dragover'].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.add('over'); }));
    ['dragleave', 'drop'].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.remove('over'); }));
    drop.addEventListener('drop', (e) => send(e.dataTransfer.files));
    input.addEventListener('change', () => { send(input.files); input.value = ''; });
  }

  // Remove a package, after a confirmation.
  $$('[data-delete]').forEach((b) => b.addEventListener('click', () => {
    if (!needToken() || !window.confirm('Remove ' + b.dataset.name + ' from the repository?')) return;
    fetch(b.dataset.delete, { method: 'DELETE', headers: auth() }).then((r) => {
      if (r.ok) { location.href = b.dataset.back; } else { r.text().then((t) => say(why(r.status, t))); }
    });
  }));

  // Create a repo.
  const cf = $('#create-form');
  if (cf) {
    cf.addEventListener('submit', (e) => {
      e.preventDefault();
      if (!needToken()) return;
      const name = $('#new-name').value.trim();
      fetch('/repos/' + encodeURIComponent(name) + '/', {
        method: 'POST', headers: Object.assign({ 'Content-Type': 'application/json' }, auth()),
        body: JSON.stringify({ description: $('#new-desc').value, private: $('#new-private').checked }),
      }).then((r) => {
        if (r.ok) { location.href = '/ui/repos/' + encodeURIComponent(name); } else { r.text().then((t) => say(why(r.status, t))); }
      });
    });
  }

  // Copy buttons.
  $$('button.copy').forEach((b) => {
    b.hidden = false;
    b.addEventListener('click', () => {
      const el = document.getElementById(b.dataset.copy);
      const text = el.textContent;
      const fallback = () => {
        const r = document.createRange(); r.selectNodeContents(el);
        const s = window.getSelection(); s.removeAllRanges(); s.addRange(r);
        document.execCommand('copy');
      };
      (navigator.clipboard ? navigator.clipboard.writeText(text) : Promise.reject(new Error('no clipboard')))
        .catch(fallback)
        .then(() => { b.textContent = 'Copied'; say('Copied'); setTimeout(() => { b.textContent = 'Copy'; }, 1500); });
    });
  });
})();
