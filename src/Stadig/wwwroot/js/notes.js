// Nothing typed is lost: every keystroke is kept in the browser (localStorage) at once, and the
// draft is saved to the server when typing pauses (within 2 s). After a crash, a lost network or a
// server restart, reopening the note restores the unsaved text and says so. A save that finds
// someone else's newer version shows both texts and overwrites nothing.
const form = document.getElementById('note-editor');
if (form) {
  const noteId = form.dataset.noteId;
  const storageKey = `stadig.note.${noteId}`;
  const status = document.getElementById('autosave-status');
  const versionInput = document.getElementById('note-version');
  const areas = Array.from(form.querySelectorAll('textarea[data-keyword]'));
  const PAUSE_MS = 1200;
  const RETRY_MS = 3000;
  let version = Number(form.dataset.version);
  let timer = null;
  let saving = false;
  let dirty = false;

  // The page renders its messages in the reader's language; the script carries no words of its own.
  const msg = (name, arg) => (form.dataset[name] ?? '').replace('{0}', arg ?? '');
  const say = (text) => { if (status) status.textContent = text; };
  const format = (template, ...values) => (template ?? '').replace(/\{(\d+)\}/g, (_, i) => String(values[Number(i)]));

  // Each field's limit is in the page. Near it a counter shows; beyond it the field is marked and the
  // writer told exactly how much to shorten. The text is never cut: it stays in the field and the
  // browser copy until it fits and is saved.
  const tooLongText = (area, max) => format(form.dataset.textTooLong, area.dataset.keyword, area.value.length, max, area.value.length - max);
  const count = (area) => {
    const max = Number(area.dataset.maxLength);
    const counter = document.getElementById(`${area.id}-count`);
    if (!max || !counter) return;
    const over = area.value.length > max;
    counter.textContent = area.value.length >= max * 0.9 ? format(form.dataset.textCount, area.value.length, max) : '';
    counter.classList.toggle('over', over);
    area.setAttribute('aria-invalid', over ? 'true' : 'false');
  };
  const keywords = () => areas.map((a) => ({ keyword: a.dataset.keyword, text: a.value }));
  const keep = () => localStorage.setItem(storageKey, JSON.stringify({ baseVersion: version, keywords: keywords(), unsaved: true }));

  const showConflict = (current) => {
    let panel = document.getElementById('conflict');
    if (!panel) {
      panel = document.createElement('section');
      panel.id = 'conflict';
      panel.className = 'notice merge conflict';
      panel.setAttribute('role', 'alert');
      form.before(panel);
    }
    panel.replaceChildren();
    const heading = document.createElement('h2');
    heading.textContent = msg('msgConflictTitle');
    const help = document.createElement('p');
    help.textContent = msg('msgConflictHelp');
    panel.append(heading, help);
    for (const k of current.keywords ?? []) {
      if (!k.text) continue;
      const h = document.createElement('h3');
      h.textContent = k.keyword;
      const pre = document.createElement('pre');
      pre.className = 'note-text';
      pre.textContent = k.text;
      panel.append(h, pre);
    }
  };

  const save = async () => {
    if (saving) { dirty = true; return; }
    saving = true;
    dirty = false;
    const sent = keywords();
    try {
      const response = await fetch(`/api/notes/${noteId}/draft`, {
        method: 'PUT',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ version, keywords: sent }),
        credentials: 'same-origin',
      });
      if (response.ok) {
        const note = await response.json();
        version = note.version;
        versionInput.value = String(version);
        form.dataset.version = String(version);
        const unchanged = JSON.stringify(sent) === JSON.stringify(keywords());
        if (unchanged) localStorage.removeItem(storageKey); else keep();
        say(msg('msgSaved', new Date().toLocaleTimeString(document.documentElement.lang || undefined)));
      } else if (response.status === 409) {
        const current = await response.json();
        showConflict(current);
        version = current.version;
        versionInput.value = String(version);
        keep();
        say(msg('msgConflict'));
      } else if (response.status === 400) {
        // The server names the field and the limit; say it in the page's language. No retry: the same
        // text would be refused again. The next keystroke saves again.
        const problem = await response.json().catch(() => ({}));
        const index = /^keywords\[(\d+)\]$/.exec(problem.field ?? '');
        const area = index ? areas[Number(index[1])] : null;
        keep();
        if (area && problem.maxLength) {
          count(area);
          say(tooLongText(area, problem.maxLength));
        } else {
          say(format(form.dataset.saveRefused, problem.detail ?? problem.title ?? response.status));
        }
      } else if (response.status === 401) {
        say(msg('msgLoggedOut'));
      } else if (response.status === 503 && response.headers.has('Retry-After')) {
        // Read-only mode (or overload): the text stays in the browser and is sent when the server says
        // to try again, until it is taken; then the browser copy goes.
        keep();
        say(msg('msgReadOnly'));
        const seconds = Number(response.headers.get('Retry-After'));
        setTimeout(save, (Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds, 30) : RETRY_MS / 1000) * 1000);
      } else {
        say(msg('msgFailed', String(response.status)));
        setTimeout(save, RETRY_MS);
      }
    } catch {
      say(msg('msgOffline'));
      setTimeout(save, RETRY_MS);
    } finally {
      saving = false;
      if (dirty) schedule();
    }
  };

  const schedule = () => {
    clearTimeout(timer);
    timer = setTimeout(save, PAUSE_MS);
  };

  for (const area of areas) {
    count(area);
    area.addEventListener('input', () => { keep(); count(area); say(msg('msgChanged')); schedule(); });
  }
  window.addEventListener('online', () => save());

  // Reopened: text that never reached the server comes back from the browser, and is saved now.
  const stored = localStorage.getItem(storageKey);
  if (stored) {
    const kept = JSON.parse(stored);
    const differs = kept.unsaved && kept.keywords.some((k, i) => areas[i] && areas[i].value !== k.text);
    if (differs) {
      kept.keywords.forEach((k, i) => { if (areas[i] && areas[i].dataset.keyword === k.keyword) areas[i].value = k.text; });
      areas.forEach(count);
      const notice = document.createElement('p');
      notice.className = 'notice merge';
      notice.id = 'restored';
      notice.setAttribute('role', 'status');
      notice.textContent = msg('msgRestored');
      form.before(notice);
      if (kept.baseVersion !== version) {
        // Someone saved in between: keep both, let the server decide (it answers with a conflict).
        version = kept.baseVersion;
      }
      save();
    } else {
      localStorage.removeItem(storageKey);
    }
  }

}

// A signed note has nothing left to save: its browser copy, if any, is no longer needed.
const signed = document.querySelector('[data-signed-note-id]');
if (signed) localStorage.removeItem(`stadig.note.${signed.dataset.signedNoteId}`);
