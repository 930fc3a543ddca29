// Keyboard-first search: from the search box, ArrowDown moves into the results; ArrowUp/ArrowDown
// move between them; Enter opens (a link's default). "/" anywhere focuses the search box.
const links = () => Array.from(document.querySelectorAll('#search-results a.result-link'));

document.addEventListener('keydown', (event) => {
  const target = event.target;
  const typing = target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement;
  if (event.key === '/' && !typing) {
    const box = document.getElementById('q') ?? document.getElementById('header-q');
    if (box) { event.preventDefault(); box.focus(); box.select(); }
    return;
  }
  if (event.key !== 'ArrowDown' && event.key !== 'ArrowUp') return;
  const all = links();
  if (all.length === 0) return;
  const index = all.indexOf(document.activeElement);
  if (index === -1 && event.key === 'ArrowDown' && (target.id === 'q' || target.id === 'header-q')) {
    event.preventDefault();
    all[0].focus();
  } else if (index !== -1) {
    event.preventDefault();
    const next = event.key === 'ArrowDown' ? Math.min(index + 1, all.length - 1) : index - 1;
    if (next < 0) document.getElementById('q')?.focus(); else all[next].focus();
  }
});
