-- The notes worklists (a physician's drafts and those named for their signature, oldest first, as the
-- caller may see them) read from one index each, in their order and with the columns the visibility
-- filter needs, without the note rows: with thousands of drafts outside the caller's view (a physician
-- who changed units, patients whose care relation has ended) the worklist read every draft's row, 56 ms
-- a request at 6,199 drafts and a core taken from every other request (docs/benchmarks.md, tenth run).
CREATE INDEX note_drafts_by_author_in_order ON note (author_id, created_at, patient_id, unit_id, id) WHERE status = 'Draft';
CREATE INDEX note_drafts_by_signer_in_order ON note (responsible_signer_id, created_at, patient_id, unit_id, id) WHERE status = 'Draft';
