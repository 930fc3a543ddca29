// Keyboard shortcuts for the commonest actions. A page marks what a key does with data-key on a link,
// button or field (links and buttons are activated, fields focused) and data-key-ctrl for Ctrl+key,
// so this script knows no page and carries no words: the help dialog ("?") is rendered by the layout
// in the reader's language. Plain keys never fire while typing in a field; Ctrl keys do (save, sign).
const typing = (t) => t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement || t instanceof HTMLSelectElement || t?.isContentEditable;
// A link may go somewhere more direct by key than by click (the inbox link: the next unattested result).
const activate = (el) => { if (el.dataset.keyHref) window.location.assign(el.dataset.keyHref); else if (el.matches('a, button')) el.click(); else el.focus(); };

document.addEventListener('keydown', (event) => {
  if (event.defaultPrevented || event.isComposing) return;
  if ((event.ctrlKey || event.metaKey) && !event.altKey) {
    const key = event.key === 'Enter' ? 'Enter' : event.key.toLowerCase();
    const el = document.querySelector(`[data-key-ctrl="${CSS.escape(key)}"]`);
    if (el) { event.preventDefault(); activate(el); }
    return;
  }
  if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
  if (event.key === '?') {
    const help = document.getElementById('shortcuts');
    if (help && !help.open) { event.preventDefault(); help.showModal(); }
    return;
  }
  const el = document.querySelector(`[data-key="${CSS.escape(event.key)}"]`);
  if (el) { event.preventDefault(); activate(el); }
});

// A skip link to a field puts the focus in it (a fragment alone only moves the reading position).
document.addEventListener('click', (event) => {
  const link = event.target instanceof Element ? event.target.closest('a.skip-link[href^="#"]') : null;
  const target = link && document.getElementById(link.getAttribute('href').slice(1));
  if (target && target.matches('input, select, textarea, button')) { event.preventDefault(); target.focus(); }
});
