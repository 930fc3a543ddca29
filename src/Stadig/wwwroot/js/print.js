// Printing on paper is logged as Utskrift, before the printer gets the page: the button posts the
// printout to the audit log and calls window.print() only when the log accepted it (fail closed).
// A printout started from the browser's own menu (Ctrl+P) is logged from the beforeprint event; the
// browser does not wait for that call, so it is best effort, which docs/operations.md says.
const button = document.querySelector('button[data-print]');
if (button) {
  const status = document.getElementById('print-status');
  const record = (keepalive) => fetch(`/api/patients/${button.dataset.patientId}/printouts`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ kind: button.dataset.print }),
    credentials: 'same-origin',
    keepalive,
  });
  let recorded = false;
  button.hidden = false;
  button.addEventListener('click', async () => {
    if (status) status.textContent = '';
    try {
      const response = await record(false);
      if (!response.ok) throw new Error(String(response.status));
    } catch {
      if (status) status.textContent = button.dataset.failed;
      return;
    }
    recorded = true;
    window.print();
  });
  window.addEventListener('beforeprint', () => { if (!recorded) record(true).catch(() => {}); });
  window.addEventListener('afterprint', () => { recorded = false; });
}
