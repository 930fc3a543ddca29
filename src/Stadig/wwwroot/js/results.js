// Results: one key goes on to the next unattested result ("n", as the link says), from the inbox
// and from a result's own view. Not while typing, and not with a modifier (the browser's own keys).
document.addEventListener('keydown', (event) => {
  const target = event.target;
  const typing = target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement
    || (target instanceof HTMLElement && target.isContentEditable);
  if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
  const link = document.querySelector(`a[data-shortcut="${event.key.toLowerCase()}"]`);
  if (link) { event.preventDefault(); link.click(); }
});
