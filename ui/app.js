// provsecret settings pages.  No framework: the server renders the shell,
// this script fills it from the JSON endpoints under /ui/api/.  Nothing is
// kept in localStorage, sessionStorage or a readable cookie; a stored value
// is shown only after an explicit, audited Reveal, and never kept.
'use strict';

(function () {
  const body = document.body;
  const page = body.dataset.page;
  const owner = body.dataset.owner;
  const user = body.dataset.user;
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const csrf = csrfMeta ? csrfMeta.content : '';
  const main = document.getElementById('main');

  // --- building the DOM (text only: nothing from the server becomes HTML)
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') node.className = v;
      else if (k === 'text') node.textContent = v;
      else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  // --- talking to the server
  class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  async function api(method, path, payload) {
    const init = { method, credentials: 'same-origin', headers: { 'X-CSRF-Token': csrf } };
    if (payload !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(payload);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, 'The server could not be reached. Check your connection and try again.');
    }
    let doc = null;
    try { doc = await response.json(); } catch (e) { doc = null; }
    if (!response.ok) {
      const message = doc && doc.error && doc.error.message ? doc.error.message : `HTTP ${response.status}`;
      throw new ApiError(response.status, message);
    }
    return doc;
  }

  // An error said the way a person can act on it.
  function explain(err) {
    switch (err.status) {
      case 401: return 'Your session has expired. Sign in again to continue.';
      case 403: return `You do not have permission to do this here. Ask an administrator of this tenant for access. (${err.message})`;
      case 502: return 'The backend that holds this workspace\'s secrets could not be reached. Nothing was changed; try again in a moment, or ask an administrator to check the workspace\'s binding.';
      case 503: return `The service is not available right now: ${err.message}`;
      case 400:
        if (/10,000 characters/.test(err.message)) return 'The value is longer than 10,000 characters. Shorten it and save again.';
        return err.message;
      default: return err.message;
    }
  }

  function showError(box, err) {
    box.className = 'notice error';
    box.replaceChildren(explain(err));
    if (err.status === 401) {
      box.append(' ', el('a', { href: `/ui/login?next=${encodeURIComponent(location.pathname)}`, text: 'Sign in' }));
    }
  }

  function showOk(box, text) {
    box.className = 'notice ok';
    box.replaceChildren(text);
  }

  function clear(box) { box.className = 'notice'; box.replaceChildren(); }

  function when(iso) {
    if (!iso) return '';
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  }

  function field(id, label, input, hint) {
    input.id = id;
    return el('div', { class: 'field' }, el('label', { for: id, text: label }), input,
      hint ? el('span', { class: 'hint', id: `${id}-hint`, text: hint }) : null);
  }

  function table(caption, headings, rows, emptyText) {
    const tbody = el('tbody');
    if (rows.length === 0) {
      tbody.append(el('tr', {}, el('td', { class: 'empty', colspan: String(headings.length), text: emptyText })));
    } else {
      for (const cells of rows) {
        tbody.append(el('tr', {}, cells.map((c, i) => {
          const td = c instanceof Node && c.tagName === 'TD' ? c : el('td', {}, c);
          if (headings[i]) td.dataset.label = headings[i];
          return td;
        })));
      }
    }
    return el('div', { class: 'table-wrap' }, el('table', {},
      el('caption', { text: caption }),
      el('thead', {}, el('tr', {}, headings.map((h) => el('th', { scope: 'col', text: h })))),
      tbody));
  }

  // --- confirmation dialog
  function confirmDelete(what) {
    return new Promise((resolve) => {
      const dialog = el('dialog', { 'aria-labelledby': 'confirm-title' },
        el('h2', { id: 'confirm-title', text: `Delete ${what}?` }),
        el('p', { text: 'The value and every kept version are destroyed. Applications using this reference stop resolving it.' }),
        el('div', { class: 'actions' },
          el('button', { type: 'button', value: 'cancel', onclick: () => dialog.close('cancel'), text: 'Cancel' }),
          el('button', { type: 'button', class: 'danger solid', onclick: () => dialog.close('delete'), text: 'Delete' })));
      dialog.addEventListener('close', () => { dialog.remove(); resolve(dialog.returnValue === 'delete'); });
      document.body.append(dialog);
      dialog.showModal();
    });
  }

  // --- account bar
  function accountBar() {
    const nav = document.getElementById('account');
    if (!user || !nav) return;
    nav.append(el('span', { class: 'who', text: `Signed in as ${user}` }),
      el('button', {
        type: 'button',
        onclick: async (e) => {
          e.currentTarget.disabled = true;
          try { await api('POST', '/ui/api/logout'); } catch (err) { /* signed out either way */ }
          location.assign('/ui/');
        },
      }, 'Sign out'));
  }

  // --- tabs
  function tabs(panels) {
    const list = el('div', { class: 'tabs', role: 'tablist' });
    const views = [];
    panels.forEach((p, i) => {
      const tab = el('button', {
        type: 'button', role: 'tab', id: `tab-${i}`, 'aria-controls': `panel-${i}`,
        'aria-selected': i === 0 ? 'true' : 'false', tabindex: i === 0 ? '0' : '-1', text: p.label,
      });
      const view = el('section', { role: 'tabpanel', id: `panel-${i}`, 'aria-labelledby': `tab-${i}` }, p.content);
      if (i !== 0) view.hidden = true;
      const select = () => {
        list.querySelectorAll('[role="tab"]').forEach((t) => { t.setAttribute('aria-selected', 'false'); t.tabIndex = -1; });
        views.forEach((v) => { v.hidden = true; });
        tab.setAttribute('aria-selected', 'true');
        tab.tabIndex = 0;
        view.hidden = false;
        if (p.onshow) p.onshow();
      };
      tab.addEventListener('click', select);
      tab.addEventListener('keydown', (e) => {
        const tabsNow = [...list.querySelectorAll('[role="tab"]')];
        const at = tabsNow.indexOf(tab);
        let next = null;
        if (e.key === 'ArrowRight') next = tabsNow[(at + 1) % tabsNow.length];
        if (e.key === 'ArrowLeft') next = tabsNow[(at - 1 + tabsNow.length) % tabsNow.length];
        if (next) { e.preventDefault(); next.focus(); next.click(); }
      });
      list.append(tab);
      views.push(view);
    });
    return [list, ...views];
  }

  // --- audit tab
  function auditPanel(apiBase) {
    const box = el('p', { class: 'notice', role: 'alert' });
    const holder = el('div');
    const panel = el('div', { class: 'card' }, el('h2', { text: 'Recent audit events' }),
      el('p', { class: 'subtitle', text: 'The newest 50 events of this tenant: reveals, changes and refused attempts.' }), box, holder);
    const load = async () => {
      clear(box);
      try {
        const doc = await api('GET', `${apiBase}/audit`);
        holder.replaceChildren(table('Audit events', ['Time', 'Action', 'Reference', 'Principal', 'Channel', 'Outcome'],
          doc.events.map((e) => [
            el('td', { class: 'nowrap' }, when(e.at)),
            e.action,
            el('td', { class: 'mono ref' }, e.reference || ''),
            el('td', { class: 'mono' }, e.principal || ''),
            e.channel,
            el('td', {}, el('span', { class: `badge ${e.outcome === 'ok' ? '' : 'denied'}`, text: e.outcome })),
          ]), 'No events yet.'));
      } catch (err) { showError(box, err); }
    };
    return { panel, load };
  }

  function heading(title, kindLabel) {
    return [
      el('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, el('a', { href: '/ui/', text: 'Tenants' }), ' / ', kindLabel),
      el('h1', {}, `${title} `, el('span', { class: 'tenant', text: owner })),
    ];
  }

  // --- provider credentials (company or project)
  function providerPage(kind) {
    const apiBase = `/ui/api/${kind === 'company' ? 'companies' : 'projects'}/${encodeURIComponent(owner)}`;
    const title = kind === 'company' ? 'AI provider credentials' : 'AI provider profiles';
    const status = el('p', { class: 'notice', role: 'status', 'aria-live': 'polite' });
    const provider = el('input', { name: 'provider', autocomplete: 'off', spellcheck: 'false', required: true, list: 'providers', placeholder: 'openai' });
    const key = el('input', { name: 'api-key', type: 'password', autocomplete: 'new-password', spellcheck: 'false', required: true, 'aria-describedby': 'api-key-hint' });
    const description = el('input', { name: 'description', autocomplete: 'off', placeholder: 'Production key' });
    const save = el('button', { type: 'submit', class: 'primary', text: 'Save' });
    const listHolder = el('div');
    const form = el('form', { class: 'editor', novalidate: true },
      field('provider', 'Provider', provider),
      field('api-key', 'API key', key, 'Write-only: saved encrypted, never shown again. Saving an existing provider rotates its key.'),
      field('description', 'Description', description),
      el('div', { class: 'form-actions' }, save),
      el('datalist', { id: 'providers' }, ['openai', 'anthropic', 'azure-openai', 'google', 'mistral', 'cohere'].map((p) => el('option', { value: p }))));

    async function refresh() {
      const doc = await api('GET', `${apiBase}/secrets`);
      listHolder.replaceChildren(table('Saved credentials', ['Provider', 'Reference', 'Version', 'Description', 'Updated', 'Updated by', ''],
        doc.secrets.map((s) => [
          el('td', {}, el('strong', { text: s.name })),
          el('td', { class: 'mono ref' }, s.reference),
          el('td', {}, `v${s.valueVersion}`),
          s.description || '',
          el('td', { class: 'nowrap' }, when(s.updatedAt)),
          el('td', { class: 'mono' }, s.updatedBy || ''),
          el('td', { class: 'row-actions' },
            el('button', { type: 'button', 'aria-label': `Rotate ${s.name}`, onclick: () => { provider.value = s.name; description.value = s.description || ''; key.focus(); }, text: 'Rotate' }),
            el('button', {
              type: 'button', class: 'danger', 'aria-label': `Delete ${s.name}`,
              onclick: async () => {
                if (!(await confirmDelete(s.name))) return;
                try {
                  await api('DELETE', `${apiBase}/secrets/${encodeURIComponent(s.name)}`);
                  showOk(status, `Deleted ${s.name}.`);
                  await refresh();
                } catch (err) { showError(status, err); }
              },
            }, 'Delete')),
        ]), 'No provider credentials yet. Add one above.'));
    }

    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clear(status);
      if (!provider.value.trim() || !key.value) {
        showError(status, new ApiError(400, 'Enter a provider and an API key.'));
        return;
      }
      save.disabled = true;
      const payload = { credentialValue: key.value };
      if (description.value.trim()) payload.description = description.value.trim();
      try {
        const name = provider.value.trim();
        const doc = await api('PUT', `${apiBase}/secrets/${encodeURIComponent(name)}`, payload);
        key.value = '';
        showOk(status, doc.created
          ? `Saved ${name} (version ${doc.valueVersion}). Use the reference ${doc.reference} in your configuration.`
          : `Rotated ${name}: now version ${doc.valueVersion}; the reference is unchanged.`);
        await refresh();
      } catch (err) {
        showError(status, err);
      } finally {
        key.value = '';
        save.disabled = false;
      }
    });

    const audit = auditPanel(apiBase);
    main.replaceChildren(...heading(title, kind === 'company' ? 'Organization' : 'Project'),
      el('p', { class: 'subtitle', text: 'Keys are sealed in the database at once. Applications use the stable managed: reference, which stays the same when a key is rotated.' }),
      ...tabs([
        { label: 'Credentials', content: [el('div', { class: 'card' }, el('h2', { text: 'Set or rotate a key' }), status, form), el('div', { class: 'card' }, listHolder)] },
        { label: 'Audit events', content: audit.panel, onshow: audit.load },
      ]));
    refresh().catch((err) => showError(status, err));
  }

  // --- workspace secrets
  function workspacePage() {
    const apiBase = `/ui/api/workspaces/${encodeURIComponent(owner)}`;
    const status = el('p', { class: 'notice', role: 'status', 'aria-live': 'polite' });
    const keyName = el('input', { name: 'key', autocomplete: 'off', spellcheck: 'false', required: true, placeholder: 'OPENAI_API_KEY' });
    const value = el('input', { name: 'value', type: 'password', autocomplete: 'new-password', spellcheck: 'false', required: true, 'aria-describedby': 'value-hint' });
    const description = el('input', { name: 'description', autocomplete: 'off' });
    const save = el('button', { type: 'submit', class: 'primary', text: 'Save' });
    const listHolder = el('div');
    const form = el('form', { class: 'editor', novalidate: true },
      field('key', 'Key', keyName),
      field('value', 'Value', value, 'Up to 10,000 characters; stored encrypted.'),
      field('description', 'Description', description),
      el('div', { class: 'form-actions' }, save));

    async function refresh() {
      const doc = await api('GET', `${apiBase}/secrets`);
      listHolder.replaceChildren(table('Secrets', ['Key', 'Description', 'Reference', 'Version', 'Updated', 'Updated by', ''],
        doc.secrets.map((s) => {
          const keyCell = el('td', {}, el('strong', { text: s.name }));
          const reveal = el('button', { type: 'button', 'aria-label': `Reveal ${s.name}`, text: 'Reveal' });
          reveal.addEventListener('click', async () => {
            const shown = keyCell.querySelector('.revealed');
            if (shown) { shown.remove(); reveal.textContent = 'Reveal'; return; }
            try {
              const r = await api('POST', `${apiBase}/secrets/${encodeURIComponent(s.name)}/reveal`);
              keyCell.append(el('code', { class: 'revealed', 'aria-label': `Value of ${s.name}`, text: r.value }));
              reveal.textContent = 'Hide';
              showOk(status, `Revealed ${s.name}. The reveal was recorded in the audit log.`);
            } catch (err) { showError(status, err); }
          });
          return [keyCell, s.description || '', el('td', { class: 'mono ref' }, s.reference),
            el('td', {}, `v${s.valueVersion}`), el('td', { class: 'nowrap' }, when(s.updatedAt)),
            el('td', { class: 'mono' }, s.updatedBy || ''),
            el('td', { class: 'row-actions' }, reveal,
              el('button', {
                type: 'button', class: 'danger', 'aria-label': `Delete ${s.name}`,
                onclick: async () => {
                  if (!(await confirmDelete(s.name))) return;
                  try {
                    await api('DELETE', `${apiBase}/secrets/${encodeURIComponent(s.name)}`);
                    showOk(status, `Deleted ${s.name}.`);
                    await refresh();
                  } catch (err) { showError(status, err); }
                },
              }, 'Delete'))];
        }), 'No secrets in this workspace yet.'));
    }

    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clear(status);
      if (!keyName.value.trim() || !value.value) {
        showError(status, new ApiError(400, 'Enter a key and a value.'));
        return;
      }
      save.disabled = true;
      const payload = { value: value.value };
      if (description.value.trim()) payload.description = description.value.trim();
      try {
        const name = keyName.value.trim();
        const doc = await api('PUT', `${apiBase}/secrets/${encodeURIComponent(name)}`, payload);
        showOk(status, doc.created ? `Saved ${name}.` : `Replaced ${name} (version ${doc.valueVersion}).`);
        await refresh();
      } catch (err) {
        showError(status, err);
      } finally {
        value.value = '';
        save.disabled = false;
      }
    });

    const audit = auditPanel(apiBase);
    main.replaceChildren(...heading('Workspace secrets', 'Workspace'),
      el('p', { class: 'subtitle', text: 'Secrets your workspace reads at run time. Values are write-only here; Reveal shows one and records who looked.' }),
      ...tabs([
        { label: 'Secrets', content: [el('div', { class: 'card' }, el('h2', { text: 'Add or replace a secret' }), status, form), el('div', { class: 'card' }, listHolder)] },
        { label: 'Audit events', content: audit.panel, onshow: audit.load },
      ]));
    refresh().catch((err) => showError(status, err));
  }

  // --- landing page
  async function homePage() {
    const status = el('p', { class: 'notice', role: 'alert' });
    main.replaceChildren(el('h1', { text: 'Your tenants' }),
      el('p', { class: 'subtitle', text: 'Organizations and projects you may see. Pick one to manage its provider credentials or workspace secrets.' }), status);
    try {
      const doc = await api('GET', '/ui/api/tenants');
      const link = (href, text) => el('a', { href, text });
      main.append(
        el('div', { class: 'card' }, table('Organizations', ['Organization', 'Settings'],
          doc.companies.map((c) => [el('td', { class: 'mono' }, c.name),
            link(`/ui/organizations/${encodeURIComponent(c.name)}/ai-provider`, 'AI provider credentials')]),
          'No organization you may see.')),
        el('div', { class: 'card' }, table('Projects and workspaces', ['Project', 'Organization', 'Settings'],
          doc.projects.map((p) => [el('td', { class: 'mono' }, p.name), p.company || '—',
            el('td', {}, link(`/ui/projects/${encodeURIComponent(p.name)}/settings/ai-providers`, 'AI provider profiles'),
              ' · ', link(`/ui/workspaces/${encodeURIComponent(p.name)}/secrets`, 'Secrets'))]),
          'No project you may see.')));
    } catch (err) { showError(status, err); }
  }

  accountBar();
  if (page === 'home') homePage();
  else if (page === 'company' || page === 'project') providerPage(page);
  else if (page === 'workspace') workspacePage();
}());
